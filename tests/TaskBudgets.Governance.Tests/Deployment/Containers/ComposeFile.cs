using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using TaskBudgets.Governance.Tests.Deployment.Manifests;
using static TaskBudgets.Governance.Tests.Deployment.Manifests.RenderedChart;

namespace TaskBudgets.Governance.Tests.Deployment.Containers;

/// <summary>deploy/docker-compose.yml with its variables substituted as docker compose substitutes them.</summary>
public static partial class ComposeFile
{
    public static string Path { get; } = System.IO.Path.Combine(Repository.Root, "deploy", "docker-compose.yml");

    public static string Folder => System.IO.Path.GetDirectoryName(Path)!;

    /// <summary>The file read with these variables; a required one that is missing fails as compose fails.</summary>
    public static JsonObject Load(IReadOnlyDictionary<string, string> variables) =>
        (JsonObject)Yaml.Parse(Interpolate(File.ReadAllText(Path), variables))!;

    public static JsonObject Service(JsonObject compose, string name) => (JsonObject)compose["services"]![name]!;

    /// <summary>A service's environment (map or KEY=VALUE list).</summary>
    public static Dictionary<string, string> Environment(JsonObject service) => service["environment"] switch
    {
        JsonObject map => map.ToDictionary(p => p.Key, p => Text(p.Value) ?? ""),
        JsonArray list => list.Select(i => Text(i)!.Split('=', 2)).ToDictionary(p => p[0], p => p.Length > 1 ? p[1] : ""),
        _ => [],
    };

    private static string Interpolate(string text, IReadOnlyDictionary<string, string> variables) =>
        Variable().Replace(text, m =>
        {
            if (m.Value == "$$")
            {
                return "$";
            }

            var name = m.Groups["name"].Value;
            var set = variables.TryGetValue(name, out var value) && value.Length > 0;
            return m.Groups["op"].Value switch
            {
                "?" when !set => throw new InvalidOperationException($"required variable {name} is missing: {m.Groups["word"].Value}"),
                "-" when !set => m.Groups["word"].Value,
                _ => value ?? "",
            };
        });

    [GeneratedRegex(@"\$\$|\$\{(?<name>\w+)(?::(?<op>[?-])(?<word>[^}]*))?\}")]
    private static partial Regex Variable();
}
