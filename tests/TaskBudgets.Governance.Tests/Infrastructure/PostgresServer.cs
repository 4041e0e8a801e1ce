using System.Diagnostics;
using Npgsql;

[assembly: AssemblyFixture(typeof(TaskBudgets.Governance.Tests.Infrastructure.PostgresServer))]

namespace TaskBudgets.Governance.Tests.Infrastructure;

/// <summary>
/// A real PostgreSQL for the test run: the one named by TASKBUDGETS_TEST_POSTGRES, or a throwaway
/// cluster started from the machine's binaries on a free loopback port and removed afterwards.
/// Started on first use, so a run that needs no PostgreSQL starts none.
/// </summary>
public sealed class PostgresServer : IAsyncDisposable
{
    public const string Variable = "TASKBUDGETS_TEST_POSTGRES";
    private readonly SemaphoreSlim gate = new(1, 1);
    private string? adminConnectionString;
    private string? directory;
    private string? binaries;
    private int port;

    /// <summary>A connection string to a new, empty database of its own.</summary>
    public async Task<string> CreateDatabaseAsync()
    {
        var admin = await StartAsync();
        var name = "tb_" + Guid.NewGuid().ToString("N");
        await using (var connection = new NpgsqlConnection(admin))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand($"CREATE DATABASE {name}", connection);
            await command.ExecuteNonQueryAsync();
        }

        return new NpgsqlConnectionStringBuilder(admin) { Database = name, Pooling = true }.ToString();
    }

    private async Task<string> StartAsync()
    {
        await gate.WaitAsync();
        try
        {
            if (adminConnectionString is not null)
            {
                return adminConnectionString;
            }

            var given = Environment.GetEnvironmentVariable(Variable);
            if (!string.IsNullOrWhiteSpace(given))
            {
                return adminConnectionString = given;
            }

            binaries = Directory.Exists("/usr/lib/postgresql")
                ? Directory.GetDirectories("/usr/lib/postgresql").Select(d => Path.Combine(d, "bin")).Where(d => File.Exists(Path.Combine(d, "pg_ctl"))).OrderDescending().FirstOrDefault()
                : null;
            if (binaries is null)
            {
                throw new InvalidOperationException($"PostgreSQL tests need a server: install PostgreSQL (apt-get install postgresql) or set {Variable} to a connection string.");
            }

            directory = Path.Combine(Path.GetTempPath(), "tb-pg-" + Guid.NewGuid().ToString("N")[..8]);
            Directory.CreateDirectory(directory);
            port = Ports.Free();
            var asRoot = Environment.UserName == "root";
            if (asRoot)
            {
                await RunAsync("chown", $"postgres {directory}");
            }

            await RunPgAsync(asRoot, "initdb", $"-D {directory}/data -U postgres --auth=trust -E UTF8 --no-sync");
            await StartClusterAsync();
            return adminConnectionString = $"Host=127.0.0.1;Port={port};Username=postgres;Database=postgres;Timeout=30";
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>Stops the server (an outage); only for a server of the test's own, never the shared one.</summary>
    public async Task StopAsync()
    {
        NpgsqlConnection.ClearAllPools();
        await RunPgAsync(Environment.UserName == "root", "pg_ctl", $"-D {directory}/data -m fast -w stop");
    }

    /// <summary>Starts a stopped server again on the same port.</summary>
    public Task StartAgainAsync() => StartClusterAsync();

    private Task StartClusterAsync() =>
        RunPgAsync(Environment.UserName == "root", "pg_ctl", $"-D {directory}/data -l {directory}/log -w -t 60 -o \"-p {port} -k {directory} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300\" start");

    public async ValueTask DisposeAsync()
    {
        if (directory is null || binaries is null)
        {
            return;
        }

        NpgsqlConnection.ClearAllPools();
        try
        {
            try
            {
                await RunPgAsync(Environment.UserName == "root", "pg_ctl", $"-D {directory}/data -m immediate -w stop");
            }
            catch (InvalidOperationException)
            {
                // Already stopped by a test.
            }
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private Task RunPgAsync(bool asRoot, string tool, string arguments) =>
        asRoot
            ? RunAsync("runuser", $"-u postgres -- {Path.Combine(binaries!, tool)} {arguments}")
            : RunAsync(Path.Combine(binaries!, tool), arguments);

    private static async Task RunAsync(string file, string arguments)
    {
        var info = new ProcessStartInfo(file, arguments) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {file}");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {arguments} failed ({process.ExitCode}): {await output}{await error}");
        }
    }

}
