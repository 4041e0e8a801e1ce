using TaskBudgets.Governance.Tests.Infrastructure;
using TaskBudgets.V1;

namespace TaskBudgets.Governance.Tests.Processes;

/// <summary>
/// The first start on an empty database, and its first grant and report, log no error: EF's
/// error for the migrations history it looks for before creating it was the first line an
/// operator saw, on a start where nothing was wrong.
/// </summary>
public sealed class FirstStartTests(PostgresServer postgres)
{
    [Fact]
    public async Task A_first_start_on_an_empty_PostgreSQL_database_logs_no_error()
    {
        using var directory = new TempDirectory();
        var settings = directory.WithTestPolicy();
        settings["Storage:Provider"] = "PostgreSql";
        settings["ConnectionStrings:Governance"] = await postgres.CreateDatabaseAsync();
        await AssertQuietAsync(directory, settings);
    }

    [Fact]
    public async Task A_first_start_on_an_empty_SQLite_database_logs_no_error()
    {
        using var directory = new TempDirectory();
        await AssertQuietAsync(directory, directory.WithTestPolicy());
    }

    private static async Task AssertQuietAsync(TempDirectory directory, Dictionary<string, string> settings)
    {
        // Readiness fails (an error from the health checks) while a renewal is three intervals
        // overdue: a longer interval than the default keeps a slow start on a busy machine from
        // tripping it. What this test is about is what the start itself logs.
        settings["Leases:RenewInterval"] = "00:00:04";
        await using var server = await ServerProcess.StartAsync(directory.Path, settings);

        // The first grant and report create the window's rows; a renewal pass follows.
        var budgets = server.Budgets;
        var grant = await budgets.GetBudgetAsync(new GetBudgetRequest { OrgId = "acme", TaskType = "t", Model = "claude-test" });
        await budgets.ReportUsageAsync(new ReportUsageRequest { GrantId = grant.GrantId, Usage = new UsageTokens { OutputTokens = 10 }, StopReason = StopReason.EndTurn });
        await Task.Delay(TimeSpan.FromSeconds(5));

        var output = server.Output;
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains("Policy version 1 loaded", output, StringComparison.Ordinal);
        Assert.False(lines.Any(ConsoleLines.IsError), $"An error on the first start:\n{output}");
        Assert.False(lines.Any(ConsoleLines.IsStackTrace), $"A stack trace on the first start:\n{output}");
    }
}
