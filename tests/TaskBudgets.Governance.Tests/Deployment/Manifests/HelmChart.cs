using System.Text.Json.Nodes;
using TaskBudgets.Governance.Tests.Deployment.Tools;
using TaskBudgets.Governance.Tests.Infrastructure;

namespace TaskBudgets.Governance.Tests.Deployment.Manifests;

/// <summary>helm/taskbudgets, rendered and linted by the real helm binary.</summary>
public static class HelmChart
{
    public const string Release = "tb";

    public static string Directory { get; } = Path.Combine(Repository.Root, "helm", "taskbudgets");

    /// <summary>The value sets in the chart's ci/ folder, by name ("postgresql-values").</summary>
    public static TheoryData<string> CiValueSets { get; } = [.. CiNames()];

    /// <summary>The CI value sets and "chart-defaults": values.yaml with only a connection string, what `helm install --set` gives.</summary>
    public static TheoryData<string> ValueSetsAndDefaults { get; } = [.. CiNames(), ChartDefaults];

    public const string ChartDefaults = "chart-defaults";

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, Lazy<Task<RenderedChart>>> Rendered = new();

    /// <summary>A value set of <see cref="ValueSetsAndDefaults"/>, rendered once per test run.</summary>
    public static Task<RenderedChart> RenderValueSetAsync(string name) =>
        Rendered.GetOrAdd(name, n => new Lazy<Task<RenderedChart>>(() => n == ChartDefaults
            ? RenderDefaultsAsync()
            : RenderAsync(CiValues(n)))).Value;

    private static IEnumerable<string> CiNames() =>
        System.IO.Directory.GetFiles(Path.Combine(Directory, "ci"), "*.yaml").Select(f => Path.GetFileNameWithoutExtension(f)!).Order();

    private static async Task<RenderedChart> RenderDefaultsAsync()
    {
        using var scratch = new TempDirectory();
        return await RenderAsync(WriteValues(scratch.Path, "database:\n  connectionString: Server=db\n"));
    }

    public static string CiValues(string name) => Path.Combine(Directory, "ci", name + ".yaml");

    public static async Task<CommandResult> HelmAsync(params string[] arguments) =>
        await Command.RunAsync(await HelmBinary.PathAsync(), arguments, timeout: TimeSpan.FromMinutes(1));

    /// <summary>helm template with these values files (applied in order); fails the test when helm refuses.</summary>
    public static async Task<RenderedChart> RenderAsync(params string[] valuesFiles)
    {
        var output = (await HelmAsync([.. TemplateArguments(), .. valuesFiles.SelectMany(f => new[] { "-f", f })])).Succeeded();
        var values = (JsonObject)Yaml.Load(Path.Combine(Directory, "values.yaml"))!;
        foreach (var file in valuesFiles)
        {
            values = Values.Merge(values, Yaml.Load(file) as JsonObject ?? []);
        }

        return new RenderedChart([.. Yaml.ParseAll(output).OfType<JsonObject>()], values);
    }

    /// <summary>Writes values to a file of their own (a connection string holds what --set cannot carry).</summary>
    public static string WriteValues(string directory, string yaml)
    {
        var file = Path.Combine(directory, $"values-{Guid.NewGuid():N}.yaml");
        File.WriteAllText(file, yaml);
        return file;
    }

    public static string[] TemplateArguments() => ["template", Release, Directory, "--namespace", "governance"];
}
