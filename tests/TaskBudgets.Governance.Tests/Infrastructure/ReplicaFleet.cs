using Npgsql;

namespace TaskBudgets.Governance.Tests.Infrastructure;

/// <summary>
/// Several real server processes on one new database of a real PostgreSQL, as a platform team
/// runs them behind a balancer: the first migrates and applies the policy, the others find both.
/// </summary>
public sealed class ReplicaFleet : IAsyncDisposable
{
    private readonly TempDirectory directory = new();

    private ReplicaFleet(string connectionString) => ConnectionString = connectionString;

    public List<ServerProcess> Replicas { get; } = [];

    public string ConnectionString { get; }

    public ServerProcess this[int index] => Replicas[index];

    /// <summary>Starts <paramref name="count"/> replicas with <paramref name="policy"/> and <paramref name="settings"/>.</summary>
    public static async Task<ReplicaFleet> StartAsync(PostgresServer postgres, string policy, int count, IReadOnlyDictionary<string, string> settings)
    {
        ArgumentNullException.ThrowIfNull(postgres);
        ArgumentNullException.ThrowIfNull(settings);
        var fleet = new ReplicaFleet(await postgres.CreateDatabaseAsync());
        try
        {
            var all = fleet.directory.WithTestPolicy(policy);
            all["Storage:Provider"] = "PostgreSql";
            all["ConnectionStrings:Governance"] = fleet.ConnectionString;

            // The replicas share this machine's clock.
            all["Leases:MaxClockSkew"] = "00:00:00.100";
            foreach (var (key, value) in settings)
            {
                all[key] = value;
            }

            fleet.Replicas.Add(await ServerProcess.StartAsync(fleet.directory.Path, all));
            all["Policy:ApplyOnStart"] = "Never";
            all["Storage:MigrateOnStart"] = "false";
            fleet.Replicas.AddRange(await Task.WhenAll(Enumerable.Range(1, count - 1).Select(_ => ServerProcess.StartAsync(fleet.directory.Path, all))));
            return fleet;
        }
        catch
        {
            await fleet.DisposeAsync();
            throw;
        }
    }

    /// <summary>A window counter's consumed and leased capacity, summed over its windows.</summary>
    public async Task<(long Consumed, long Leased)> CounterAsync(string key)
    {
        var row = await QueryAsync(
            """SELECT COALESCE(SUM("Consumed"), 0)::bigint, COALESCE(SUM("Leased"), 0)::bigint FROM quota_counters WHERE "CounterKey" = @k""",
            ("k", key));
        return (row[0], row[1]);
    }

    /// <summary>One row of bigint columns from <paramref name="sql"/> (zeros when there is no row).</summary>
    public async Task<long[]> QueryAsync(string sql, params (string Name, object Value)[] parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        await using var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        await using var reader = await command.ExecuteReaderAsync();
        var values = new long[reader.FieldCount];
        if (await reader.ReadAsync())
        {
            for (var i = 0; i < values.Length; i++)
            {
                values[i] = reader.IsDBNull(i) ? 0 : reader.GetInt64(i);
            }
        }

        return values;
    }

    /// <summary>
    /// Every writer takes rows in one order (settlements, leases, counters, each by id), so
    /// PostgreSQL never has to break a deadlock: one it detects fails a group commit or a renewal
    /// (recovered from, but slowly), and means the order was broken somewhere.
    /// </summary>
    public void AssertNoDeadlocks()
    {
        foreach (var replica in Replicas)
        {
            Assert.DoesNotContain("deadlock detected", replica.Output, StringComparison.Ordinal);
        }
    }

    /// <summary>
    /// What a fleet does in the normal course (replicas opening the same window at once, taking
    /// back capacity, settling each other's grants) logs no Error: those are for an operator to act on.
    /// </summary>
    public void AssertNoErrors()
    {
        foreach (var replica in Replicas)
        {
            var lines = replica.Output.Split('\n');
            Assert.DoesNotContain(lines, ConsoleLines.IsError);
            Assert.DoesNotContain(lines, ConsoleLines.IsStackTrace);
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var replica in Replicas)
        {
            await replica.DisposeAsync();
        }

        directory.Dispose();
    }
}
