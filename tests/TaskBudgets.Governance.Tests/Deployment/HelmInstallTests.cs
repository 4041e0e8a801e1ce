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
    public async Task Sqlite_value_set_serves_budgets_with_the_admin_key_it_generated_on_its_volume()
    {
        using var scratch = new TempDirectory();
        var chart = await HelmChart.RenderAsync(HelmChart.CiValues("sqlite-single-values"));
        Assert.Null(chart.MigrationJob); // The database file lives on the pod's volume: the pod migrates it.

        await using var running = await InstallAsync(chart, scratch.Path);

        var key = running.GeneratedAdminKey();
        var grant = await running.GetBudgetAsync(key, "demo", "claude-sonnet-4-5");
        Assert.Equal(Decision.Granted, grant.Decision);
        Assert.True(File.Exists(running.Container.HostPath("/data/governance.db")), "The SQLite file is not on the /data volume:\n" + running.Output);
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
                    Assert.Null(await Probes.RunAsync(running, probe, ports));
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
