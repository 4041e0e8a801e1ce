using TaskBudgets.Governance.Tests.Calibration;
using TaskBudgets.Governance.Tests.Infrastructure;
using TaskBudgets.V1;

namespace TaskBudgets.Governance.Tests.Admin;

/// <summary>SimulatePolicy with adaptive candidate rules: they take the calibration's recommendation, once it has their min_samples.</summary>
public sealed class SimulatePolicyAdaptiveTests : AppTests
{
    protected override Task<GovernanceApp> StartAsync() => Task.FromResult(GovernanceApp.Create(policy: AdaptiveBudgetTests.Policy));

    private async Task<PolicyReplayGroup> LightAsync(string candidate)
    {
        var replay = await App.Admin.SimulatePolicyAsync(new SimulatePolicyRequest { OrgId = "lab", PolicyYaml = candidate });
        return Assert.Single(replay.Groups, g => g.TaskType == "light");
    }

    [Fact]
    public async Task Adaptive_candidate_rules_replay_with_the_budget_the_calibration_grants()
    {
        await AdaptiveCalls.CallsAsync(App, "light", 60, i => 300 + (i % 7));
        await AdaptiveCalls.SyncAsync(App);
        var granted = (await AdaptiveCalls.AskAsync(App, "light")).Budget.ReasoningTokens;

        var same = await LightAsync(AdaptiveBudgetTests.Policy);
        var notAdaptive = await LightAsync(AdaptiveBudgetTests.Policy.Replace(
            "max_reasoning_tokens: 16384\n        max_output_tokens: 32768\n        soft_limit_threshold: 1.0\n        adaptive: true\n        min_samples: 40\n      - task_type: heavy",
            "max_reasoning_tokens: 16384\n        max_output_tokens: 32768\n        soft_limit_threshold: 1.0\n        adaptive: false\n        min_samples: 40\n      - task_type: heavy",
            StringComparison.Ordinal));
        var tooFewSamples = await LightAsync(AdaptiveBudgetTests.Policy.Replace("min_samples: 40\n      - task_type: heavy", "min_samples: 1000\n      - task_type: heavy", StringComparison.Ordinal));

        Assert.True(granted < 4096, $"the calibration should have cut the 4096 default for needs near 300, granted {granted}");
        Assert.Equal((true, 60L, (double)granted), (same.Adaptive, same.CalibratedCalls, same.Projected.ReservedReasoningTokensPerCall));
        Assert.Equal(0, same.Projected.Truncations);
        Assert.Equal((false, 0L, 4096.0), (notAdaptive.Adaptive, notAdaptive.CalibratedCalls, notAdaptive.Projected.ReservedReasoningTokensPerCall));
        Assert.Equal((true, 0L, 4096.0), (tooFewSamples.Adaptive, tooFewSamples.CalibratedCalls, tooFewSamples.Projected.ReservedReasoningTokensPerCall));
    }
}
