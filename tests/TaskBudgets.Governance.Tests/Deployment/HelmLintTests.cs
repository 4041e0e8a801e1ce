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
    public async Task Refuses_a_combination_that_cannot_run_and_says_why(string why, params string[] settings)
    {
        var result = await HelmChart.HelmAsync([.. HelmChart.TemplateArguments(), .. settings.SelectMany(s => new[] { "--set", s })]);

        Assert.True(result.ExitCode != 0, $"helm template {string.Join(' ', settings)} rendered instead of refusing:\n{result.Output}");
        Assert.Contains(why, result.Output, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Chart_alert_rules_are_the_canonical_Prometheus_alert_rules()
    {
        var canonical = await File.ReadAllBytesAsync(Path.Combine(Repository.Root, "deploy", "prometheus", "alerts.yml"));
        var inChart = await File.ReadAllBytesAsync(Path.Combine(HelmChart.Directory, "files", "alerts.yml"));
        Assert.True(canonical.SequenceEqual(inChart), "helm/taskbudgets/files/alerts.yml differs from deploy/prometheus/alerts.yml: copy it over.");
    }
}
