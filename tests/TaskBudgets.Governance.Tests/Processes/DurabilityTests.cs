using Grpc.Core;
using Microsoft.Data.Sqlite;
using TaskBudgets.Governance.Tests.Infrastructure;
using TaskBudgets.V1;

namespace TaskBudgets.Governance.Tests.Processes;

/// <summary>Promise 4: a ReportUsage that returned OK survives kill -9 of the replica that took it.</summary>
public sealed class DurabilityTests
{
    [Fact]
    public async Task Every_acknowledged_report_survives_kill_9_of_the_server()
    {
        using var directory = new TempDirectory();
        var server = await ServerProcess.StartAsync(directory.Path, directory.WithTestPolicy());
        var acknowledged = 0;
        var stop = new CancellationTokenSource();
        await using (server)
        {
            var budgets = server.Budgets;
            var workers = Enumerable.Range(0, 16).Select(async worker =>
            {
                for (var i = 0; !stop.IsCancellationRequested; i++)
                {
                    try
                    {
                        var grant = await budgets.GetBudgetAsync(new GetBudgetRequest { OrgId = "acme", TaskType = "t", Model = "claude-test" });
                        await budgets.ReportUsageAsync(new ReportUsageRequest
                        {
                            GrantId = grant.GrantId,
                            Usage = new UsageTokens { InputTokens = 10, OutputTokens = 100, ReasoningTokens = 7 },
                            StopReason = StopReason.EndTurn,
                        });
                        Interlocked.Increment(ref acknowledged);
                    }
                    catch (RpcException)
                    {
                        // In flight when the process died: not acknowledged, so nothing is promised.
                        return;
                    }
                }
            }).ToList();

            // Let reports flow, then kill the process in the middle of it.
            while (Volatile.Read(ref acknowledged) < 300)
            {
                await Task.Delay(20);
            }

            await server.KillAsync();
            stop.Cancel();
            await Task.WhenAll(workers);
        }

        var database = Path.Combine(directory.Path, "governance.db");
        await using var connection = new SqliteConnection($"Data Source={database};Pooling=false");
        await connection.OpenAsync();
        await using var count = connection.CreateCommand();
        count.CommandText = "SELECT COUNT(*), COALESCE(SUM(ReasoningTokens), 0) FROM settlements";
        await using var reader = await count.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        var rows = reader.GetInt64(0);
        var reasoning = reader.GetInt64(1);

        Assert.True(acknowledged >= 300);
        Assert.True(rows >= acknowledged, $"{acknowledged} reports were acknowledged but only {rows} are in the database");
        Assert.Equal(rows * 7, reasoning);
    }
}
