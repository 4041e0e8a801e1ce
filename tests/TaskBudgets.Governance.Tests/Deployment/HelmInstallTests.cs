using TaskBudgets.Governance.Tests.Deployment.Containers;
using TaskBudgets.Governance.Tests.Deployment.Manifests;
using TaskBudgets.Governance.Tests.Infrastructure;
using TaskBudgets.V1;
using static TaskBudgets.Governance.Tests.Deployment.Manifests.RenderedChart;

namespace TaskBudgets.Governance.Tests.Deployment;

/// <summary>
/// The configuration the chart ships is tested by starting what it configures: the rendered
/// migration Job and Deployment container run as local processes with exactly their environment,
/// arguments and mounts (ports and folders mapped as a container engine maps them), the pod's own
/// probes must pass, and the service must answer a GetBudget under the policy the chart rendered.
/// SQL Server, the chart's default provider, is not on this machine: the default test swaps in
/// PostgreSQL through the provider value, which is the only change.
/// </summary>
public sealed class HelmInstallTests(PostgresServer postgres)
{
    [Fact]
    public async Task Chart_defaults_on_PostgreSQL_migrate_in_the_hook_job_then_serve_budgets()
    {
        using var scratch = new TempDirectory();
        var values = HelmChart.WriteValues(scratch.Path, $"""
            database:
              provider: PostgreSql
              connectionString: "{await postgres.CreateDatabaseAsync()}"
            auth:
              adminKey: "{GovernanceApp.AdminKey}"
            """);
        var chart = await HelmChart.RenderAsync(values);

        await using var running = await InstallAsync(chart, scratch.Path);

        var grant = await running.GetBudgetAsync(GovernanceApp.AdminKey, "demo", "claude-sonnet-4-5");
        Assert.Equal(Decision.Granted, grant.Decision);
    }

    [Fact]
    public async Task PostgreSQL_value_set_passes_its_HTTP_probes_and_serves_the_policy_it_gives_as_text()
    {
        using var scratch = new TempDirectory();
        var database = HelmChart.WriteValues(scratch.Path, $"""
            database:
              connectionString: "{await postgres.CreateDatabaseAsync()}"
            auth:
              adminKey: "{GovernanceApp.AdminKey}"
            """);
        var chart = await HelmChart.RenderAsync(HelmChart.CiValues("postgresql-values"), database);
        Assert.Equal("http", chart.ValueText("probes.mode"));

        await using var running = await InstallAsync(chart, scratch.Path);

        var grant = await running.GetBudgetAsync(GovernanceApp.AdminKey, "acme", "gpt-5");
        Assert.Equal(Decision.Granted, grant.Decision);
    }

    [Fact]
    public async Task Sqlite_value_set_serves_budgets_with_the_admin_key_the_chart_generated_into_its_Secret()
    {
        using var scratch = new TempDirectory();
        var chart = await HelmChart.RenderValueSetAsync("sqlite-single-values");
        Assert.Null(chart.MigrationJob); // The database file lives on the pod's volume: the pod migrates it.

        await using var running = await InstallAsync(chart, scratch.Path);

        // One key for the release, in its Secret: what `kubectl get secret` shows the operator.
        var secret = chart.Named("Secret", Text(chart.Deployment!["metadata"]!["name"])!);
        var key = System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(Text(secret["data"]![chart.ValueText("secretKeys.adminKey")!])!));
        var grant = await running.GetBudgetAsync(key, "demo", "claude-sonnet-4-5");
        Assert.Equal(Decision.Granted, grant.Decision);
        Assert.True(File.Exists(running.Container.HostPath("/data/governance.db")), "The SQLite file is not on the /data volume:\n" + running.Output);
        Assert.False(File.Exists(running.Container.HostPath("/data/admin-key")), "The pod generated an admin key of its own.");
    }

    /// <summary>
    /// Every value set of ci/ as a cluster would run it: the Secrets and ConfigMaps it names but does
    /// not render exist (a certificate for TLS, the shipped compose policy for a policy ConfigMap), the
    /// database is a throwaway PostgreSQL (SQL Server is not on this machine), and an External
    /// migration is applied first, as the DBA would. The pod's probes pass and it serves a budget.
    /// </summary>
    [Theory]
    [MemberData(nameof(HelmChart.CiValueSets), MemberType = typeof(HelmChart))]
    public async Task Every_ci_value_set_starts_as_rendered_and_serves_budgets(string valueSet)
    {
        using var scratch = new TempDirectory();
        var given = await HelmChart.RenderValueSetAsync(valueSet);
        var sqlite = given.ValueText("database.provider") == "Sqlite";
        var connection = sqlite ? "" : await postgres.CreateDatabaseAsync();
        var database = sqlite ? [] : new[] { HelmChart.WriteValues(scratch.Path, string.IsNullOrEmpty(given.ValueText("existingSecret"))
            ? $"database:\n  provider: PostgreSql\n  connectionString: \"{connection}\"\n"
            : "database:\n  provider: PostgreSql\n") };
        var pki = new TestPki();
        var cluster = ClusterObjects.For(given, connection, pki);
        var chart = (await HelmChart.RenderAsync([HelmChart.CiValues(valueSet), .. database])).With(cluster.Objects);

        if (chart.ValueText("migrations.mode") == "External" && !sqlite)
        {
            // The DBA's step: the same image's migrate command against the same database.
            var dba = KubernetesContainer.From(chart, chart.Deployment!, Path.Combine(scratch.Path, "dba")) with { Arguments = ["migrate"] };
            (await dba.RunToCompletionAsync()).Succeeded();
        }

        await using var running = await InstallAsync(chart, scratch.Path);

        var (org, model) = cluster.FirstOrgAndModel(chart);
        var key = running.Container.Environment["Auth__AdminKey"];
        var grant = chart.ValueText("tls.enabled") == "true"
            ? await running.GetBudgetOverTlsAsync(pki.Handler(pki.Client()), key, org, model)
            : await running.GetBudgetAsync(key, org, model);
        Assert.Equal(Decision.Granted, grant.Decision);
    }

    /// <summary>What helm install does: the pre-install hook Job to completion, then the Deployment's pod until its probes pass.</summary>
    private static async Task<RunningContainer> InstallAsync(RenderedChart chart, string scratch)
    {
        if (chart.MigrationJob is { } job)
        {
            (await KubernetesContainer.From(chart, job, Path.Combine(scratch, "job")).RunToCompletionAsync()).Succeeded();
        }

        var deployment = chart.Deployment!;
        var running = await KubernetesContainer.From(chart, deployment, Path.Combine(scratch, "pod")).StartAsync();
        try
        {
            var container = Objects(deployment["spec"]!["template"]!["spec"]!["containers"]).Single();
            var ports = Objects(container["ports"]).ToDictionary(p => Text(p["name"])!, p => (int)p["containerPort"]!);
            foreach (var name in new[] { "startupProbe", "livenessProbe", "readinessProbe" })
            {
                if (container[name] is System.Text.Json.Nodes.JsonObject probe)
                {
                    // The kubelet probes again every period: a pod still warming up on a busy
                    // machine is not ready yet, which is not a failure until the probe gives up.
                    var failure = await Probes.RunAsync(running, probe, ports);
                    for (var attempt = 1; failure is not null && attempt < 30; attempt++)
                    {
                        await Task.Delay(TimeSpan.FromSeconds(1));
                        failure = await Probes.RunAsync(running, probe, ports);
                    }

                    Assert.True(failure is null, $"{name}: {failure}\n{running.Output}");
                }
                else
                {
                    Assert.NotEqual("readinessProbe", name);
                }
            }

            return running;
        }
        catch
        {
            await running.DisposeAsync();
            throw;
        }
    }
}
