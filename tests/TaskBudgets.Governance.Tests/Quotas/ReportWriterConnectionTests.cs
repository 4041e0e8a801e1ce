using Google.Protobuf.WellKnownTypes;
using Microsoft.Data.SqlClient;
using Npgsql;
using TaskBudgets.Governance.Storage;
using TaskBudgets.Governance.Tests.Infrastructure;
using TaskBudgets.V1;

namespace TaskBudgets.Governance.Tests.Quotas;

/// <summary>The group commit keeps one database session of its own, named, on a database server.</summary>
public sealed class ReportWriterConnectionTests(PostgresServer postgres)
{
    private const string WriterApplication = "taskbudgets-governance/" + ReportWriterConnectionString.Suffix;

    [Fact]
    public void The_writer_marks_the_application_name_and_keeps_the_rest_of_the_connection_string()
    {
        var plain = new NpgsqlConnectionStringBuilder(ReportWriterConnectionString.PostgreSql("Host=db;Database=gov;Username=tb;Maximum Pool Size=40"));
        Assert.Equal(WriterApplication, plain.ApplicationName);
        Assert.Equal(("db", "gov", "tb", 40), (plain.Host, plain.Database, plain.Username, plain.MaxPoolSize));
        Assert.Equal(16, plain.MaxAutoPrepare);

        var named = new NpgsqlConnectionStringBuilder(ReportWriterConnectionString.PostgreSql("Host=db;Application Name=billing-gov;Max Auto Prepare=4"));
        Assert.Equal("billing-gov/report-writer", named.ApplicationName);
        Assert.Equal(4, named.MaxAutoPrepare);

        var sqlServer = new SqlConnectionStringBuilder(ReportWriterConnectionString.SqlServer("Server=db;Database=gov;Integrated Security=true"));
        Assert.Equal(WriterApplication, sqlServer.ApplicationName);
        Assert.Equal(("db", "gov", true), (sqlServer.DataSource, sqlServer.InitialCatalog, sqlServer.IntegratedSecurity));
        Assert.Equal("ops/report-writer", new SqlConnectionStringBuilder(ReportWriterConnectionString.SqlServer("Server=db;Application Name=ops")).ApplicationName);
    }

    [Fact]
    public async Task Every_commit_on_PostgreSQL_goes_through_the_writers_one_session()
    {
        var connectionString = await postgres.CreateDatabaseAsync();
        await using var app = GovernanceApp.Create(connectionString);
        var sessions = new List<int>();
        for (var i = 0; i < 5; i++)
        {
            var grant = await app.Budgets.GetBudgetAsync(new GetBudgetRequest { OrgId = "acme", TaskType = "support", Model = "claude-test", Features = new TaskFeatures() });
            await app.Budgets.ReportUsageAsync(new ReportUsageRequest
            {
                GrantId = grant.GrantId,
                Usage = new UsageTokens { InputTokens = 300, OutputTokens = 1500, ReasoningTokens = 1000 },
                StopReason = StopReason.EndTurn,
                Outcome = Outcome.Success,
                Latency = Duration.FromTimeSpan(TimeSpan.FromSeconds(1)),
            });
            sessions.AddRange(await WriterSessionsAsync(connectionString));
        }

        // One session after each acknowledged report, and the same one each time: the writer's
        // commits neither open new sessions nor wander over the shared pool's.
        Assert.Equal(5, sessions.Count);
        Assert.Single(sessions.Distinct());
    }

    private static async Task<List<int>> WriterSessionsAsync(string connectionString)
    {
        await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false }.ToString());
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = @name", connection);
        command.Parameters.AddWithValue("name", WriterApplication);
        var pids = new List<int>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            pids.Add(reader.GetInt32(0));
        }

        return pids;
    }
}
