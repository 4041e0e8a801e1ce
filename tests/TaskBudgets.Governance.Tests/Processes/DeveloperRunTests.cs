using System.Text.Json;
using System.Text.RegularExpressions;
using TaskBudgets.Governance.Tests.Infrastructure;

namespace TaskBudgets.Governance.Tests.Processes;

/// <summary>
/// What a developer sees at a terminal: `dotnet run` (its launch profile) logs readable lines in
/// Development while the default stays JSON lines, and `migrate` says what it did.
/// </summary>
public sealed partial class DeveloperRunTests
{
    private static readonly string Project = Path.Combine(Repository.Root, "src", "TaskBudgets.Governance");

    [Fact]
    public async Task The_launch_profile_runs_in_Development_with_one_readable_line_per_log()
    {
        using var profile = JsonDocument.Parse(File.ReadAllText(Path.Combine(Project, "Properties", "launchSettings.json")));
        var launch = Assert.Single(profile.RootElement.GetProperty("profiles").EnumerateObject()).Value;
        Assert.Equal("Project", launch.GetProperty("commandName").GetString());
        var environment = launch.GetProperty("environmentVariables").EnumerateObject().ToDictionary(v => v.Name, v => v.Value.GetString()!);

        var output = await StartedOutputAsync(environment);

        Assert.Contains("info: Microsoft.Hosting.Lifetime[0] Hosting environment: Development", output, StringComparison.Ordinal);
        Assert.DoesNotContain(Lines(output), l => l.StartsWith('{'));
    }

    [Fact]
    public async Task Without_the_profile_the_server_logs_json_lines_in_Production()
    {
        var output = await StartedOutputAsync(new Dictionary<string, string>());

        var lines = Lines(output).Where(l => l.StartsWith('{')).ToList();
        Assert.NotEmpty(lines);
        Assert.All(lines, l => JsonDocument.Parse(l).Dispose());
        Assert.Contains(lines, l => l.Contains("\"Message\":\"Hosting environment: Production\"", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Migrate_names_the_migrations_it_applied_then_says_nothing_was_pending()
    {
        using var directory = new TempDirectory();
        var migrations = Directory.GetFiles(Path.Combine(Repository.Root, "src", "TaskBudgets.Governance.Migrations.Sqlite"), "*.cs")
            .Select(f => Path.GetFileNameWithoutExtension(f)).Where(n => MigrationId().IsMatch(n)).Order(StringComparer.Ordinal).ToList();
        Assert.NotEmpty(migrations);

        var first = (await MigrateAsync(directory.Path)).Succeeded();
        var applied = Lines(first).Select(l => l.Trim()).Where(l => MigrationId().IsMatch(l)).ToList();
        Assert.Equal(migrations, applied);
        Assert.Contains($"Applied {migrations.Count} migration(s):", first, StringComparison.Ordinal);

        var second = (await MigrateAsync(directory.Path)).Succeeded();
        Assert.Contains("No pending migrations: the database schema is up to date.", second, StringComparison.Ordinal);
        Assert.DoesNotContain(Lines(second), l => MigrationId().IsMatch(l.Trim()));
    }

    private static Task<CommandResult> MigrateAsync(string dataDirectory)
    {
        var dll = LocalServer.BuiltAssembly(Repository.Configuration);
        return Command.RunAsync("dotnet", [dll, "migrate", $"--Storage:DataDirectory={dataDirectory}"], Path.GetDirectoryName(dll));
    }

    /// <summary>Starts the built server from its output folder (its appsettings files), with <paramref name="environment"/> and nothing else set, and returns what it printed once ready.</summary>
    private static async Task<string> StartedOutputAsync(Dictionary<string, string> environment)
    {
        using var directory = new TempDirectory();
        var dll = LocalServer.BuiltAssembly(Repository.Configuration);
        await using var server = await LocalServer.StartAsync(dll, Path.GetDirectoryName(dll)!, [], (grpc, http) => new Dictionary<string, string>(environment)
        {
            ["Server__ListenAddress"] = "127.0.0.1",
            ["Server__GrpcPort"] = grpc.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Server__HttpPort"] = http.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Storage__DataDirectory"] = directory.Path,
        });
        return server.Output;
    }

    private static string[] Lines(string output) => output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    [GeneratedRegex(@"^\d{14}_\w+$")]
    private static partial Regex MigrationId();
}
