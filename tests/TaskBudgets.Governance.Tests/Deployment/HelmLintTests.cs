using TaskBudgets.Governance.Tests.Deployment.Manifests;

namespace TaskBudgets.Governance.Tests.Deployment;

/// <summary>The chart as helm itself judges it: strict lint, the schema, and the combinations its templates refuse.</summary>
public sealed class HelmLintTests
{
    [Theory]
    [MemberData(nameof(HelmChart.CiValueSets), MemberType = typeof(HelmChart))]
    public async Task Each_CI_value_set_passes_strict_lint(string valueSet) =>
        (await HelmChart.HelmAsync("lint", "--strict", HelmChart.Directory, "-f", HelmChart.CiValues(valueSet))).Succeeded();

    [Fact]
    public async Task Chart_defaults_with_only_a_connection_string_pass_the_schema_and_strict_lint() =>
        (await HelmChart.HelmAsync("lint", "--strict", HelmChart.Directory, "--set", "database.connectionString=Server=db")).Succeeded();

    [Theory]
    [InlineData("Sqlite supports exactly one replica", "database.provider=Sqlite", "replicaCount=2", "autoscaling.enabled=false")]
    [InlineData("Sqlite supports exactly one replica", "database.provider=Sqlite", "replicaCount=1")]
    [InlineData("needs a connection string")]
    [InlineData("value must be one of 'SqlServer', 'PostgreSql', 'Sqlite'", "database.provider=MySql", "database.connectionString=x")]
    [InlineData("additional properties 'replicas' not allowed", "replicas=3", "database.connectionString=x")]
    [InlineData("only one of", "database.connectionString=x", "podDisruptionBudget.minAvailable=1")]
    [InlineData("tls.enabled needs tls.secretName", "database.connectionString=x", "tls.enabled=true")]
    [InlineData("tls.clientCa.enabled needs tls.enabled", "database.connectionString=x", "tls.clientCa.enabled=true")]
    [InlineData("probes and Prometheus reach the HTTP port", "database.connectionString=x", "tls.enabled=true", "tls.secretName=t", "tls.clientCa.enabled=true", "tls.clientCa.requireOnHttpPort=true")]
    [InlineData("each pod would generate a key of its own", "database.connectionString=x", "auth.generateAdminKey=false")]
    [InlineData("grpcRoute.enabled needs grpcRoute.parentRefs", "database.connectionString=x", "grpcRoute.enabled=true")]
    public async Task Refuses_a_combination_that_cannot_run_and_says_why(string why, params string[] settings)
    {
        var result = await HelmChart.HelmAsync([.. HelmChart.TemplateArguments(), .. settings.SelectMany(s => new[] { "--set", s })]);

        Assert.True(result.ExitCode != 0, $"helm template {string.Join(' ', settings)} rendered instead of refusing:\n{result.Output}");
        Assert.Contains(why, result.Output, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>
    /// values.schema.json describes every value a user can set: each key of values.yaml and of the
    /// ci/ value sets has a schema entry with a description (free-form objects such as annotations
    /// are described as a whole).
    /// </summary>
    [Fact]
    public void The_schema_describes_every_value_of_values_yaml_and_the_ci_value_sets()
    {
        var schema = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(HelmChart.Directory, "values.schema.json")))!;
        var problems = new Problems();
        foreach (var file in new[] { Path.Combine(HelmChart.Directory, "values.yaml") }.Concat(Directory.GetFiles(Path.Combine(HelmChart.Directory, "ci"), "*.yaml").Order()))
        {
            Describe(Yaml.Load(file), schema, "", Path.GetFileName(file), problems);
        }

        problems.AssertNone("values.schema.json");
    }

    private static void Describe(System.Text.Json.Nodes.JsonNode? value, System.Text.Json.Nodes.JsonNode schema, string path, string file, Problems problems)
    {
        if (value is not System.Text.Json.Nodes.JsonObject values || schema["properties"] is not System.Text.Json.Nodes.JsonObject properties)
        {
            return;
        }

        foreach (var (key, child) in values)
        {
            var where = path.Length == 0 ? key : $"{path}.{key}";
            var entry = properties[key];
            if (problems.Expect(entry is not null, $"{file}: {where} has no schema entry")
                && problems.Expect(!string.IsNullOrWhiteSpace(RenderedChart.Text(entry!["description"])), $"{file}: {where} has no description"))
            {
                Describe(child, entry!, where, file, problems);
            }
        }
    }

    [Fact]
    public async Task Chart_alert_rules_are_the_canonical_Prometheus_alert_rules()
    {
        var canonical = await File.ReadAllBytesAsync(Path.Combine(Repository.Root, "deploy", "prometheus", "alerts.yml"));
        var inChart = await File.ReadAllBytesAsync(Path.Combine(HelmChart.Directory, "files", "alerts.yml"));
        Assert.True(canonical.SequenceEqual(inChart), "helm/taskbudgets/files/alerts.yml differs from deploy/prometheus/alerts.yml: copy it over.");
    }
}
