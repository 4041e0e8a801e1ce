using TaskBudgets.Governance.Tests.Infrastructure;
using TaskBudgets.V1;
using static TaskBudgets.Governance.Tests.Calibration.AdaptiveCalls;

namespace TaskBudgets.Governance.Tests.Calibration;

/// <summary>
/// Through the real gRPC surface: an adaptive rule learns what a call's phase and input size say
/// about its need, and grants each call the base times what was learned for it.
/// </summary>
public sealed class CallFeatureBudgetTests : AppTests
{
    protected override Task<GovernanceApp> StartAsync() => Task.FromResult(GovernanceApp.Create(policy: AdaptiveBudgetTests.Policy));

    /// <summary>A need's spread, the same in every group: a factor of about 2 either way.</summary>
    private static double Spread(int i) => Math.Exp(0.7 * (((i * 7919) % 101 / 50.0) - 1.0));

    /// <summary>One call of "light" with <paramref name="features"/> that needs <paramref name="need"/>, reported as a client does.</summary>
    private async Task CallAsync(TaskFeatures features, long need)
    {
        var grant = await AskAsync(App, "light", features: features);
        var truncated = need > grant.Budget.ReasoningTokens;
        var used = truncated ? grant.Budget.ReasoningTokens : need;
        await App.Budgets.ReportUsageAsync(new ReportUsageRequest
        {
            GrantId = grant.GrantId,
            Usage = new UsageTokens { InputTokens = features.EstimatedInputTokens, OutputTokens = used + 50, ReasoningTokens = used },
            StopReason = truncated ? StopReason.MaxTokens : StopReason.EndTurn,
        });
    }

    [Fact]
    public async Task Preliminary_and_deep_calls_get_what_their_phase_was_learned_to_need()
    {
        // Standard calls need about 1,000, preliminary ones a fifth, deep ones four times as much.
        for (var round = 0; round < 2; round++)
        {
            for (var i = 0; i < 150; i++)
            {
                var need = 1_000 * Spread(i);
                var (phase, factor) = (i % 5) switch
                {
                    0 => (Phase.Preliminary, 0.2),
                    1 => (Phase.Deep, 4.0),
                    _ => (Phase.Standard, 1.0),
                };
                await CallAsync(new TaskFeatures { Phase = phase }, (long)(need * factor));
            }

            await SyncAsync(App);
        }

        var standard = await AskAsync(App, "light", features: new TaskFeatures { Phase = Phase.Standard });
        var preliminary = await AskAsync(App, "light", features: new TaskFeatures { Phase = Phase.Preliminary });
        var deep = await AskAsync(App, "light", features: new TaskFeatures { Phase = Phase.Deep });
        var row = (await App.Admin.GetCalibrationAsync(new GetCalibrationRequest { TaskType = "light" })).Calibrations.Single();

        Assert.InRange(row.PreliminaryPhaseFactor, 0.17, 0.23); // medians of a few dozen calls each, to the sketch's 2 %
        Assert.InRange(row.DeepPhaseFactor, 3.4, 4.6);
        Assert.Empty(row.LongInputFactors);
        var baseTokens = (double)standard.Budget.ReasoningTokens;
        Assert.Equal(row.PreliminaryPhaseFactor, preliminary.Budget.ReasoningTokens / baseTokens, 0.01); // not the rule's 25 %
        Assert.Equal(row.DeepPhaseFactor, deep.Budget.ReasoningTokens / baseTokens, 0.01); // not the rule's max
        Assert.True(deep.Budget.ReasoningTokens < 16_384, $"deep {deep.Budget.ReasoningTokens}");
        Assert.Contains(preliminary.Reasons, r => r.Code == ReasonCode.PreliminaryPhase && r.Text.Contains("what preliminary calls needed", StringComparison.Ordinal));
        Assert.Contains(deep.Reasons, r => r.Code == ReasonCode.DeepPhase && r.Text.Contains("what deep calls needed", StringComparison.Ordinal));
        Assert.InRange(row.ProjectedTruncationRate, 0.0, 0.1);
    }

    [Fact]
    public async Task Long_inputs_get_what_their_band_was_learned_to_need()
    {
        // Calls with inputs of 100,000 tokens need three times what short ones do (the fixed step
        // would give them 1.36x); inputs of 20,000 tokens need what short ones do.
        for (var round = 0; round < 2; round++)
        {
            for (var i = 0; i < 150; i++)
            {
                var need = 1_000 * Spread(i);
                var (input, factor) = (i % 3) switch
                {
                    0 => (100_000L, 3.0),
                    1 => (20_000L, 1.0),
                    _ => (2_000L, 1.0),
                };
                await CallAsync(new TaskFeatures { EstimatedInputTokens = input }, (long)(need * factor));
            }

            await SyncAsync(App);
        }

        var shortInput = await AskAsync(App, "light", features: new TaskFeatures { EstimatedInputTokens = 2_000 });
        var longInput = await AskAsync(App, "light", features: new TaskFeatures { EstimatedInputTokens = 100_000 });
        var unseenBand = await AskAsync(App, "light", features: new TaskFeatures { EstimatedInputTokens = 500_000 });
        var row = (await App.Admin.GetCalibrationAsync(new GetCalibrationRequest { TaskType = "light" })).Calibrations.Single();

        Assert.Equal(6, row.LongInputFactors.Count);
        Assert.InRange(row.LongInputFactors[0], 0.9, 1.1); // up to 32,768 tokens
        Assert.Equal(0, row.LongInputFactors[1]); // no call had an input in 32,768..65,536
        Assert.InRange(row.LongInputFactors[2], 2.7, 3.3); // up to 131,072
        Assert.Equal(0, row.LongInputFactors[3]);
        var baseTokens = (double)shortInput.Budget.ReasoningTokens;
        Assert.Equal(row.LongInputFactors[2], longInput.Budget.ReasoningTokens / baseTokens, 0.01);
        Assert.True(unseenBand.Budget.ReasoningTokens > longInput.Budget.ReasoningTokens, $"{unseenBand.Budget.ReasoningTokens} for 500,000 tokens, {longInput.Budget.ReasoningTokens} for 100,000"); // the learned trend, not the fixed step's x1.5
        Assert.Contains(longInput.Reasons, r => r.Code == ReasonCode.LongInput && r.Text.Contains("what calls with inputs of its size needed", StringComparison.Ordinal));
        Assert.Contains(unseenBand.Reasons, r => r.Code == ReasonCode.LongInput && r.Text.EndsWith("raised the budget", StringComparison.Ordinal));
    }
}
