using System.Text.Json.Nodes;

namespace TaskBudgets.Governance.Tests.Deployment.Manifests;

/// <summary>The manifests helm rendered for one set of values, and those values merged as helm merges them.</summary>
public sealed record RenderedChart(IReadOnlyList<JsonObject> Manifests, JsonObject Values)
{
    public IEnumerable<JsonObject> OfKind(string kind) => Manifests.Where(m => Text(m["kind"]) == kind);

    /// <summary>These manifests and <paramref name="clusterObjects"/>, which exist in the cluster already (a Secret the values name).</summary>
    public RenderedChart With(IEnumerable<JsonObject> clusterObjects) => this with { Manifests = [.. Manifests, .. clusterObjects] };

    public JsonObject? Deployment => OfKind("Deployment").SingleOrDefault();

    public JsonObject? MigrationJob => OfKind("Job").SingleOrDefault();

    /// <summary>The Secret or ConfigMap of that name.</summary>
    public JsonObject Named(string kind, string name) =>
        OfKind(kind).SingleOrDefault(m => Text(m["metadata"]?["name"]) == name)
        ?? throw new Xunit.Sdk.XunitException($"No {kind} named {name} was rendered.");

    public JsonNode? Value(string path) => path.Split('.').Aggregate<string, JsonNode?>(Values, (node, key) => node?[key]);

    public string? ValueText(string path) => Text(Value(path));

    /// <summary>A scalar as text, whatever its YAML type ("8080", "true"); null when absent.</summary>
    public static string? Text(JsonNode? node) => node switch
    {
        null => null,
        JsonValue v when v.TryGetValue<string>(out var s) => s,
        JsonValue v when v.TryGetValue<bool>(out var b) => b ? "true" : "false",
        _ => node.ToJsonString(),
    };

    public static IEnumerable<JsonObject> Objects(JsonNode? array) => array is JsonArray a ? a.OfType<JsonObject>() : [];
}
