using System.Text.RegularExpressions;
using TaskBudgets.Governance.Tests.Deployment.Containers;
using TaskBudgets.Governance.Tests.Infrastructure;
using TaskBudgets.V1;
using static TaskBudgets.Governance.Tests.Deployment.Manifests.RenderedChart;

namespace TaskBudgets.Governance.Tests.Deployment;

/// <summary>
/// deploy/docker-compose.yml. Its migrate and service containers are started with their
/// environment, command and mounts; SQL Server is not on this machine, so PostgreSQL stands in
/// through the provider and connection string, the only two variables replaced.
/// </summary>
public sealed partial class ComposeTests(PostgresServer postgres)
{
    private static readonly Dictionary<string, string> Passwords = new() { ["MSSQL_SA_PASSWORD"] = "test-only", ["GRAFANA_ADMIN_PASSWORD"] = "test-only" };

    [Fact]
    public async Task Migrate_then_service_serve_the_sample_policy_with_the_key_generated_on_the_data_volume()
    {
        using var volumes = new TempDirectory();
        var compose = ComposeFile.Load(Passwords);
        var database = new Dictionary<string, string> { ["Storage__Provider"] = "PostgreSql", ["ConnectionStrings__Governance"] = await postgres.CreateDatabaseAsync() };

        (await Container(compose, "migrate", database, volumes.Path).RunToCompletionAsync()).Succeeded();
        var service = Container(compose, "taskbudgets", database, volumes.Path);
        await using var running = await service.StartAsync();

        var grant = await running.GetBudgetAsync(running.GeneratedAdminKey(), "demo", "claude-sonnet-4-5");
        Assert.Equal(Decision.Granted, grant.Decision);
    }

    [Fact]
    public void Every_password_comes_from_a_required_variable()
    {
        var text = File.ReadAllText(ComposeFile.Path);
        Assert.Matches(@"\$\{MSSQL_SA_PASSWORD:\?[^}]*\}", text);
        Assert.DoesNotContain(LiteralPassword().Matches(text), m => !m.Groups[2].Value.StartsWith('$'));
        Assert.Throws<InvalidOperationException>(() => ComposeFile.Load(new Dictionary<string, string>()));
    }

    [Fact]
    public void Service_waits_for_migrate_and_runs_hardened_like_the_chart()
    {
        var compose = ComposeFile.Load(Passwords);
        var services = compose["services"]!.AsObject();
        Assert.Equal(["grafana", "migrate", "mssql", "prometheus", "taskbudgets"], services.Select(s => s.Key).Order());
        var service = ComposeFile.Service(compose, "taskbudgets");
        Assert.Equal("true", Text(service["read_only"]));
        Assert.Contains("ALL", (service["cap_drop"]?.AsArray() ?? []).Select(Text));
        Assert.Equal("service_completed_successfully", Text(service["depends_on"]?["migrate"]?["condition"]));
        Assert.Equal("[\"migrate\"]", ComposeFile.Service(compose, "migrate")["command"]?.ToJsonString());
        foreach (var (name, node) in services)
        {
            foreach (var dependency in node!["depends_on"] is System.Text.Json.Nodes.JsonObject map ? map.Select(d => d.Key) : (node["depends_on"]?.AsArray() ?? []).Select(d => Text(d)!))
            {
                Assert.True(services.ContainsKey(dependency), $"{name} depends on unknown service {dependency}");
            }
        }
    }

    [Fact]
    public void Build_context_bind_mounts_and_Grafana_provisioning_exist()
    {
        var compose = ComposeFile.Load(Passwords);
        foreach (var (name, service) in compose["services"]!.AsObject())
        {
            if (service!["build"] is { } build)
            {
                var context = Path.GetFullPath(Path.Combine(ComposeFile.Folder, Text(build["context"]) ?? "."));
                Assert.True(File.Exists(Path.Combine(context, Text(build["dockerfile"]) ?? "Dockerfile")), $"{name}: its Dockerfile is not in its build context");
            }

            foreach (var source in (service["volumes"]?.AsArray() ?? []).Select(v => Text(v)!.Split(':')[0]).Where(s => s.StartsWith('.')))
            {
                Assert.True(Path.Exists(Path.Combine(ComposeFile.Folder, source)), $"{name}: bind source {source} does not exist");
            }
        }

        foreach (var folder in new[] { "datasources", "dashboards" })
        {
            var files = Directory.GetFiles(Path.Combine(ComposeFile.Folder, "grafana", "provisioning", folder));
            Assert.NotEmpty(files);
            Assert.All(files, f => Assert.Equal("1", Text(Manifests.Yaml.Load(f)?["apiVersion"])));
        }
    }

    /// <summary>A compose service as a local container: its named volumes and tmpfs as folders, its bind mounts from deploy/.</summary>
    private static LocalContainer Container(System.Text.Json.Nodes.JsonObject compose, string name, Dictionary<string, string> database, string volumes)
    {
        var service = ComposeFile.Service(compose, name);
        var environment = ComposeFile.Environment(service);
        Assert.Equal("SqlServer", environment["Storage__Provider"]);
        foreach (var (key, value) in database)
        {
            environment[key] = value;
        }

        var mounts = new Dictionary<string, string>();
        foreach (var volume in (service["volumes"]?.AsArray() ?? []).Select(v => Text(v)!.Split(':')))
        {
            mounts[volume[1]] = volume[0].StartsWith('.') ? Path.GetFullPath(Path.Combine(ComposeFile.Folder, volume[0])) : Path.Combine(volumes, volume[0]);
        }

        foreach (var tmpfs in (service["tmpfs"]?.AsArray() ?? []).Select(t => Text(t)!))
        {
            mounts[tmpfs] = Path.Combine(volumes, name + "-tmpfs");
        }

        foreach (var folder in mounts.Values)
        {
            Directory.CreateDirectory(folder);
        }

        var ports = (service["ports"]?.AsArray() ?? []).Select(p => int.Parse(Text(p)!.Split(':')[^1], System.Globalization.CultureInfo.InvariantCulture)).ToList();
        var command = service["command"]?.AsArray().Select(c => Text(c)!).ToList() ?? [];
        return new LocalContainer(LocalContainer.BuiltImage, command, environment, mounts, ports.ElementAtOrDefault(0), ports.ElementAtOrDefault(1));
    }

    [GeneratedRegex("(?i)(password|pwd)\\s*[=:]\\s*([^;\\s\"']+)")]
    private static partial Regex LiteralPassword();
}
