using Grpc.Core;
using TaskBudgets.Governance.Tests.Infrastructure;
using TaskBudgets.V1;

namespace TaskBudgets.Governance.Tests.Processes;

/// <summary>
/// A database outage: grants go on from leases for the configured time, then fail closed;
/// reports are refused (UNAVAILABLE) rather than acknowledged and lost; all recovers after.
/// The outage spans a minute's rollover, so the per-minute quota's grants come from the lease
/// the renewal took for the next minute before it started. It is told in a few warnings, not
/// an error with a stack trace per attempt (a renewal every 200 ms here wrote over a thousand lines).
/// </summary>
public sealed class OutageTests
{
    [Fact]
    public async Task During_a_database_outage_grants_serve_from_leases_for_a_bounded_time_and_reports_are_refused_not_lost()
    {
        // A PostgreSQL of this test's own: it is stopped midway.
        await using var postgres = new PostgresServer();
        using var directory = new TempDirectory();
        var settings = directory.WithTestPolicy();
        settings["Storage:Provider"] = "PostgreSql";
        settings["ConnectionStrings:Governance"] = await postgres.CreateDatabaseAsync();
        settings["Leases:RenewInterval"] = "00:00:00.200";
        // Long enough that the lease still serves when the test asks after the stop; the fail-closed
        // check below waits it out.
        settings["Leases:ServeWithoutDatabaseFor"] = "00:00:08";
        await using var server = await ServerProcess.StartAsync(directory.Path, settings);
        var budgets = server.Budgets;
        var ask = new GetBudgetRequest { OrgId = "acme", TaskType = "t", Model = "claude-test" };

        // Three seconds before a minute ends (up to a minute's wait): acme's requests-per-minute
        // quota rolls over during the outage. Once, a rollover in CI failed the grant below.
        while (DateTime.UtcNow.Second != 57)
        {
            await Task.Delay(100);
        }

        var minute = DateTime.UtcNow.Minute;
        var before = await budgets.GetBudgetAsync(ask);
        for (var i = 0; i < 5; i++)
        {
            await budgets.GetBudgetAsync(ask);
        }

        // A few renewal passes, which lease the next minute ahead (within ServeWithoutDatabaseFor of
        // its start), with calls going on as on a serving replica: the hold each lease declares
        // covers Leases:HoldAhead of recent use, which is what serves while the database is away.
        var passes = System.Diagnostics.Stopwatch.StartNew();
        while (passes.ElapsedMilliseconds < 600)
        {
            await budgets.GetBudgetAsync(ask);
            await Task.Delay(100);
        }

        // Timed from the end of the stop: until then a renewal can still reach the database, and
        // each one that does restarts the lease's serving time.
        var quiet = server.Output.Length;
        await postgres.StopAsync();
        var stopped = System.Diagnostics.Stopwatch.StartNew();
        while (DateTime.UtcNow.Minute == minute)
        {
            await Task.Delay(50);
        }

        // From the leases, without the database: the next minute's, the hour's and the day's.
        var during = await budgets.GetBudgetAsync(ask);
        var report = new ReportUsageRequest { GrantId = during.GrantId, Usage = new UsageTokens { OutputTokens = 500, ReasoningTokens = 400 }, StopReason = StopReason.EndTurn };
        var refused = await Assert.ThrowsAsync<RpcException>(() => budgets.ReportUsageAsync(report).ResponseAsync);
        Assert.Equal(StatusCode.Unavailable, refused.StatusCode);

        // Past Leases:ServeWithoutDatabaseFor: fail closed.
        await Task.Delay(TimeSpan.FromSeconds(Math.Max(0, 9 - stopped.Elapsed.TotalSeconds)));
        var closed = await Assert.ThrowsAsync<RpcException>(() => budgets.GetBudgetAsync(ask).ResponseAsync);
        Assert.Equal(StatusCode.Unavailable, closed.StatusCode);

        await postgres.StartAgainAsync();

        // Recovery: grants again, and the refused report, retried, is counted once. A report may
        // still meet a connection the restart broke: UNAVAILABLE means "not recorded, retry with the
        // same ids", which is what a client does.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        Assert.NotNull(await UntilAvailableAsync(() => budgets.GetBudgetAsync(ask).ResponseAsync, deadline));
        var first = await UntilAvailableAsync(() => budgets.ReportUsageAsync(report).ResponseAsync, deadline);
        Assert.NotNull(first);
        var again = await budgets.ReportUsageAsync(report);
        Assert.False(first.Duplicate);
        Assert.True(again.Duplicate);
        Assert.NotEqual(before.GrantId, during.GrantId);

        // Told as one outage: a warning when it started, at most a summary, one when it ended
        // (a report committed again); no error, no stack trace, a bounded number of lines.
        var told = server.Output[quiet..];
        var lines = told.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        TestContext.Current.TestOutputHelper?.WriteLine($"{lines.Length} lines from the stop to the end:\n{told}");
        Assert.Contains("The database is unreachable", told, StringComparison.Ordinal);
        Assert.Contains("The database is reachable again", told, StringComparison.Ordinal);
        Assert.False(lines.Any(ConsoleLines.IsError), $"An error from the stop to the end:\n{told}");
        Assert.False(lines.Any(ConsoleLines.IsStackTrace), $"A stack trace from the stop to the end:\n{told}");
        Assert.True(lines.Length <= 20, $"{lines.Length} lines from the stop to the end:\n{told}");
    }

    /// <summary>Calls until an answer other than UNAVAILABLE, or null at the deadline.</summary>
    private static async Task<T?> UntilAvailableAsync<T>(Func<Task<T>> call, DateTime deadline)
        where T : class
    {
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                return await call();
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.Unavailable)
            {
                await Task.Delay(200);
            }
        }

        return null;
    }
}
