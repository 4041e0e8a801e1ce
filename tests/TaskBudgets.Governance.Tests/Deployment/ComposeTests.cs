using System.Text.RegularExpressions;
using TaskBudgets.Governance.Tests.Deployment.Containers;
using TaskBudgets.Governance.Tests.Infrastructure;
using TaskBudgets.V1;
using static TaskBudgets.Governance.Tests.Deployment.Manifests.RenderedChart;

namespace TaskBudgets.Governance.Tests.Deployment;

/// <summary>
/// deploy/docker-compose.yml. The postgres service's init script is run against the test's
/// throwaway PostgreSQL as the image runs it, and the migrate and service containers are started
/// with their environment, command and mounts; only where the database is (the "postgres" host)
/// is mapped to that server.
/// </summary>
public sealed partial class ComposeTests(PostgresServer postgres)
{
    private static readonly Dictionary<string, string> Passwords = new()
    {
        ["POSTGRES_PASSWORD"] = "test-only-superuser",
        ["TASKBUDGETS_DB_PASSWORD"] = "test-only-login",
        ["TASKBUDGETS_KEY_ENCRYPTION_KEY"] = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)),
        ["GRAFANA_ADMIN_PASSWORD"] = "test-only",
    };

    [Fact]
    public async Task Migrate_then_service_serve_the_sample_policy_as_the_least_privilege_login_the_init_script_creates()
    {
        using var volumes = new TempDirectory();
        var compose = ComposeFile.Load(Passwords);
        var (database, login) = await CreateLoginAsync(compose);

        var migrated = (await Container(compose, "migrate", database, volumes.Path).RunToCompletionAsync()).Succeeded();
        var service = Container(compose, "taskbudgets", database, volumes.Path);
        await using var running = await service.StartAsync();

        var grant = await running.GetBudgetAsync(running.GeneratedAdminKey(), "demo", "claude-sonnet-4-5");
        Assert.Equal(Decision.Granted, grant.Decision);
        Assert.Contains("Applied ", migrated, StringComparison.Ordinal);
        Assert.DoesNotContain("stored in clear", running.Output, StringComparison.Ordinal); // Grants:KeyEncryptionKey is set

        // What the service ran as: the login, which owns every table and may do nothing else.
        await using var superuser = new Npgsql.NpgsqlConnection(new Npgsql.NpgsqlConnectionStringBuilder(await postgres.SuperuserConnectionStringAsync()) { Database = login.Database }.ToString());
        await superuser.OpenAsync();
        Assert.Equal("f f f", await ScalarAsync(superuser, $"SELECT concat_ws(' ', rolsuper, rolcreatedb, rolcreaterole) FROM pg_roles WHERE rolname = '{login.Username}'"));
        Assert.Equal(login.Username, await ScalarAsync(superuser, "SELECT string_agg(DISTINCT tableowner, ',') FROM pg_tables WHERE schemaname = 'public'"));
        Assert.Equal("False", await ScalarAsync(superuser, $"SELECT has_database_privilege('public', '{login.Database}', 'CONNECT')"));
        Assert.True(int.Parse(await ScalarAsync(superuser, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"), System.Globalization.CultureInfo.InvariantCulture) > 5);
    }

    /// <summary>
    /// Runs deploy/postgres/initdb as the postgres image runs it on a first start: with the
    /// service's environment, as the superuser. The database and login get names of their own
    /// (the server is shared by the test run); the compose connection string is pointed at them.
    /// </summary>
    private async Task<(Dictionary<string, string> Database, Npgsql.NpgsqlConnectionStringBuilder Login)> CreateLoginAsync(System.Text.Json.Nodes.JsonObject compose)
    {
        var superuser = new Npgsql.NpgsqlConnectionStringBuilder(await postgres.SuperuserConnectionStringAsync());
        var environment = ComposeFile.Environment(ComposeFile.Service(compose, "postgres"));
        var suffix = Guid.NewGuid().ToString("N")[..8];
        environment["TASKBUDGETS_DB"] += "_" + suffix;
        environment["TASKBUDGETS_DB_USER"] += "_" + suffix;
        environment["POSTGRES_USER"] = superuser.Username!;
        environment["POSTGRES_DB"] = superuser.Database!;
        environment["PGHOST"] = superuser.Host!;
        environment["PGPORT"] = superuser.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        environment["PGPASSWORD"] = superuser.Password ?? "";
        var binaries = TaskBudgets.Testing.PostgresCluster.FindBinaries();
        environment["PATH"] = (binaries is null ? "" : binaries + ":") + Environment.GetEnvironmentVariable("PATH");
        var initdb = Directory.GetFiles(Path.Combine(ComposeFile.Folder, "postgres", "initdb"), "*.sh").Order(StringComparer.Ordinal).ToList();
        Assert.NotEmpty(initdb);
        foreach (var script in initdb)
        {
            (await Command.RunAsync("sh", [script], ComposeFile.Folder, environment)).Succeeded();
        }

        var service = ComposeFile.Environment(ComposeFile.Service(compose, "taskbudgets"));
        var login = new Npgsql.NpgsqlConnectionStringBuilder(service["ConnectionStrings__Governance"]);
        Assert.Equal(("postgres", environment["TASKBUDGETS_DB"][..^9], environment["TASKBUDGETS_DB_USER"][..^9], Passwords["TASKBUDGETS_DB_PASSWORD"]), (login.Host, login.Database, login.Username, login.Password));
        login.Host = superuser.Host;
        login.Port = superuser.Port;
        login.Database = environment["TASKBUDGETS_DB"];
        login.Username = environment["TASKBUDGETS_DB_USER"];
        return (new Dictionary<string, string> { ["ConnectionStrings__Governance"] = login.ToString() }, login);
    }

    private static async Task<string> ScalarAsync(Npgsql.NpgsqlConnection connection, string sql)
    {
        await using var command = new Npgsql.NpgsqlCommand(sql, connection);
        return Convert.ToString(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture) ?? "";
    }

    [Fact]
    public void Every_password_comes_from_a_required_variable()
    {
        var text = File.ReadAllText(ComposeFile.Path);
        foreach (var required in Passwords.Keys)
        {
            Assert.Matches($@"\$\{{{required}:\?[^}}]*\}}", text);
        }

        Assert.DoesNotContain(LiteralPassword().Matches(text), m => !m.Groups[2].Value.StartsWith('$'));
        Assert.Throws<InvalidOperationException>(() => ComposeFile.Load(new Dictionary<string, string>()));
    }

    [Fact]
    public void Service_waits_for_migrate_and_runs_hardened_like_the_chart()
    {
        var compose = ComposeFile.Load(Passwords);
        var services = compose["services"]!.AsObject();
        Assert.Equal(["grafana", "migrate", "postgres", "prometheus", "taskbudgets"], services.Select(s => s.Key).Order());
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
    public void Base_images_are_pinned_to_exact_versions()
    {
        var compose = ComposeFile.Load(Passwords);
        foreach (var (name, service) in compose["services"]!.AsObject())
        {
            var image = Text(service!["image"])!;
            if (service["build"] is not null)
            {
                continue; // built here from the pinned Dockerfile
            }

            Assert.Matches(@"^[\w./-]+:v?\d+\.\d+(\.\d+)?$", image);
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
        Assert.Equal("PostgreSql", environment["Storage__Provider"]);
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
