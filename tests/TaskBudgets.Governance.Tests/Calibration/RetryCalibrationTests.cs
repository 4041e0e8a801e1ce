using TaskBudgets.Governance.Tests.Infrastructure;
using TaskBudgets.V1;

namespace TaskBudgets.Governance.Tests.Calibration;

/// <summary>Retries after a truncation through the real gRPC surface: the calibration counts tasks, not calls.</summary>
public sealed class RetryCalibrationTests : AppTests
{
    protected override Task<GovernanceApp> StartAsync() => Task.FromResult(GovernanceApp.Create(policy: AdaptiveBudgetTests.Policy));

    private async Task<long> CallAsync(long need, TaskFeatures? features = null)
    {
        var grant = await AdaptiveCalls.AskAsync(App, "light", features: features);
        var budget = grant.Budget.ReasoningTokens;
        var truncated = need > budget;
        await App.Budgets.ReportUsageAsync(new ReportUsageRequest
        {
            GrantId = grant.GrantId,
            Usage = new UsageTokens { InputTokens = 100, OutputTokens = Math.Min(need, budget) + 50, ReasoningTokens = Math.Min(need, budget) },
            StopReason = truncated ? StopReason.MaxTokens : StopReason.EndTurn,
        });
        return budget;
    }

    [Fact]
    public async Task A_retry_with_the_budget_its_previous_attempt_exceeded_counts_as_the_same_task()
    {
        // Task A: truncated at the default (4,096), then done at 6,000 on attempt 2, which says
        // what it exceeded. Task B: the same, but attempt 2 leaves it to the service (its own
        // previous step, the default). Task C: done at 300 at once.
        var first = await CallAsync(6_000);
        Assert.Equal(4_096, first);
        await CallAsync(6_000, new TaskFeatures { Attempt = 2, PreviousStopReason = StopReason.MaxTokens, PreviousReasoningTokens = first });
        await CallAsync(5_000);
        await CallAsync(5_000, new TaskFeatures { Attempt = 2, PreviousStopReason = StopReason.MaxTokens });
        await CallAsync(300);
        await AdaptiveCalls.SyncAsync(App);

        var row = (await App.Admin.GetCalibrationAsync(new GetCalibrationRequest { Tier = "adaptive", TaskType = "light" })).Calibrations.Single();

        // Three tasks, two of them truncated on their first attempt; two retries beside them.
        Assert.Equal(3, row.Samples, 6);
        Assert.Equal(2.0 / 3, row.TruncationRate, 6);
        Assert.Equal(2, row.Retries, 6);

        // Each truncated task counts once, at its need: a third of the tasks need 300 or less.
        Assert.InRange(row.UsedP50, 4_900, 5_100);
        Assert.Equal(3, row.EscalationBudgets.Count);
    }
}
