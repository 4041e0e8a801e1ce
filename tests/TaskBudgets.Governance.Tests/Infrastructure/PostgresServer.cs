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
    private PostgresCluster? cluster;

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

    /// <summary>The superuser's connection string (to the maintenance database), as an init script gets it.</summary>
    public Task<string> SuperuserConnectionStringAsync() => StartAsync();

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

            if (PostgresCluster.FindBinaries() is null)
            {
                throw new InvalidOperationException($"PostgreSQL tests need a server: install PostgreSQL (apt-get install postgresql) or set {Variable} to a connection string.");
            }

            // fsync off: these tests kill the service, never the database's machine.
            cluster = await PostgresCluster.StartAsync(Path.Combine(Path.GetTempPath(), "tb-pg-" + Guid.NewGuid().ToString("N")[..8]), fsync: false);
            return adminConnectionString = cluster.ConnectionString;
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
        await Started.StopAsync();
    }

    /// <summary>Starts a stopped server again on the same port.</summary>
    public Task StartAgainAsync() => Started.StartAgainAsync();

    private PostgresCluster Started => cluster ?? throw new InvalidOperationException("Only a cluster this run started can be stopped and started.");

    public async ValueTask DisposeAsync()
    {
        if (cluster is null)
        {
            return;
        }

        NpgsqlConnection.ClearAllPools();
        try
        {
            await cluster.DisposeAsync();
        }
        finally
        {
            Directory.Delete(cluster.Directory, recursive: true);
        }
    }
}
