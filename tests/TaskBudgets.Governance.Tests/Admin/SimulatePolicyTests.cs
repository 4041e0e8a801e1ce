using Grpc.Core;
using TaskBudgets.Governance.Admin;
using TaskBudgets.Governance.Tests.Api;
using TaskBudgets.Governance.Tests.Infrastructure;
using TaskBudgets.V1;

namespace TaskBudgets.Governance.Tests.Admin;

/// <summary>SimulatePolicy: settled calls replayed under a candidate policy, actual against projected, changing nothing.</summary>
public sealed class SimulatePolicyTests : AppTests
{
    /// <summary>The test policy with the default rule's default reasoning budget set to <paramref name="budget"/>.</summary>
    private static string Candidate(long budget) => TestPolicy.Yaml.Replace(
        "min_reasoning_tokens: 1024\n        default_reasoning_tokens: 2048\n        max_reasoning_tokens: 8192\n        answer_tokens: 1024\n        max_output_tokens: 16384\n        effort: medium",
        $"min_reasoning_tokens: 1024\n        default_reasoning_tokens: {budget}\n        max_reasoning_tokens: 8192\n        answer_tokens: 1024\n        max_output_tokens: 16384\n        effort: medium",
        StringComparison.Ordinal);

    [Theory]
    [InlineData(500, 2048, false, 1024, 500, false, false)] // needed 500: fits
    [InlineData(1800, 2048, false, 1024, 1024, true, false)] // needed 1800: truncated at 1024
    [InlineData(2048, 2048, true, 1024, 1024, true, false)] // needed more than 2048: more than 1024 too
    [InlineData(2048, 2048, true, 2048, 2048, true, false)] // the same budget: still truncated
    [InlineData(2048, 2048, true, 4096, 2048, false, true)] // a larger budget: unknown, censored
    public void The_censoring_rule_projects_each_recorded_call(long used, long granted, bool truncated, long budget, long projectedUse, bool projectedTruncated, bool censored)
    {
        var projected = ProjectedCall.Under(new RecordedCall(granted, granted + 1024, used, 100, truncated), budget);

        Assert.Equal((projectedUse, projectedUse + 100, projectedTruncated, censored), (projected.UsedReasoning, projected.UsedOutput, projected.Truncated, projected.Censored));
    }

    [Fact]
    public async Task SimulatePolicy_replays_settled_calls_under_the_candidate_and_changes_nothing()
    {
        async Task CallAsync(string org, long reasoning, long output, StopReason stop)
        {
            var grant = await App.Budgets.GetBudgetAsync(new GetBudgetRequest { OrgId = org, TaskType = "support", Model = "claude-test" });
            await App.Budgets.ReportUsageAsync(new ReportUsageRequest { GrantId = grant.GrantId, Usage = new UsageTokens { InputTokens = 100, OutputTokens = output, ReasoningTokens = reasoning }, StopReason = stop });
        }

        await CallAsync("capped", 500, 800, StopReason.EndTurn);
        await CallAsync("capped", 1800, 2000, StopReason.EndTurn);
        await CallAsync("capped", 2048, 3072, StopReason.MaxTokens);

        // Hold grants until the request quota (5 a minute) refuses one, then release them: one denial, no more calls.
        var held = new List<string>();
        for (var i = 0; i < 2; i++)
        {
            held.Add((await App.Budgets.GetBudgetAsync(new GetBudgetRequest { OrgId = "capped", TaskType = "support", Model = "claude-test" })).GrantId);
        }

        await RpcAssert.FailsAsync(StatusCode.ResourceExhausted, "QUOTA_EXHAUSTED", () => App.Budgets.GetBudgetAsync(new GetBudgetRequest { OrgId = "capped", TaskType = "support", Model = "claude-test" }).ResponseAsync);
        foreach (var grant in held)
        {
            await App.Budgets.ReleaseBudgetAsync(new ReleaseBudgetRequest { GrantId = grant });
        }

        await CallAsync("acme", 300, 400, StopReason.EndTurn);
        var countersBefore = await App.CountersAsync();

        var smaller = await App.Admin.SimulatePolicyAsync(new SimulatePolicyRequest { OrgId = "capped", PolicyYaml = Candidate(1024) });
        var larger = await App.Admin.SimulatePolicyAsync(new SimulatePolicyRequest { OrgId = "capped", PolicyYaml = Candidate(4096) });
        var everyOrg = await App.Admin.SimulatePolicyAsync(new SimulatePolicyRequest { PolicyYaml = Candidate(1024), Since = Google.Protobuf.WellKnownTypes.Duration.FromTimeSpan(TimeSpan.FromHours(1)) });

        var group = Assert.Single(smaller.Groups);
        Assert.Equal(("standard", "support", "*", 3L), (group.Tier, group.TaskType, group.CandidateRule, group.Calls));
        Assert.Equal((3 * 2048L, 500 + 1800 + 2048L, 800 + 2000 + 3072L, 1L, 1L), (group.Actual.ReservedReasoningTokens, group.Actual.UsedReasoningTokens, group.Actual.UsedOutputTokens, group.Actual.Truncations, group.Actual.Denials));
        Assert.Equal((4348.0 / 6144, 1.0 / 3), (group.Actual.ReservationEfficiency, group.Actual.TruncationRate));

        // Needed 500 fits; needed 1800 is cut at 1024; truncated at 2048 stays truncated at 1024.
        Assert.Equal((3 * 1024L, 500 + 1024 + 1024L, 800 + 1224 + 2048L, 2L, 0L, 0L), (group.Projected.ReservedReasoningTokens, group.Projected.UsedReasoningTokens, group.Projected.UsedOutputTokens, group.Projected.Truncations, group.Projected.CensoredTruncations, group.Projected.Denials));
        Assert.Equal(1024.0, group.Projected.ReservedReasoningTokensPerCall);

        // With more than the truncated call's grant, its outcome is unknown: censored, not truncated.
        var up = Assert.Single(larger.Groups);
        Assert.Equal((3 * 4096L, 0L, 1L), (up.Projected.ReservedReasoningTokens, up.Projected.Truncations, up.Projected.CensoredTruncations));
        Assert.Equal(smaller.Total.Projected, group.Projected);

        var both = Assert.Single(everyOrg.Groups);
        Assert.Equal((4L, 4L, 0L), (both.Calls, everyOrg.Total.Calls, everyOrg.UnmatchedCalls));
        Assert.Contains(everyOrg.Notes, n => n.Contains("default budget", StringComparison.Ordinal));
        Assert.Equal(countersBefore.Select(c => (c.CounterKey, c.Consumed, c.Leased)), (await App.CountersAsync()).Select(c => (c.CounterKey, c.Consumed, c.Leased)));
    }

    [Fact]
    public async Task A_bad_candidate_policy_is_INVALID_ARGUMENT_naming_each_field()
    {
        var impossible = TestPolicy.Yaml.Replace("min_reasoning_tokens: 0\n        default_reasoning_tokens: 512", "min_reasoning_tokens: 4096\n        default_reasoning_tokens: 512", StringComparison.Ordinal);

        var bad = await RpcAssert.FailsAsync(StatusCode.InvalidArgument, "INVALID_ARGUMENT", () => App.Admin.SimulatePolicyAsync(new SimulatePolicyRequest { PolicyYaml = impossible }).ResponseAsync);
        var malformed = await RpcAssert.FailsAsync(StatusCode.InvalidArgument, "INVALID_ARGUMENT", () => App.Admin.SimulatePolicyAsync(new SimulatePolicyRequest { PolicyYaml = "tiers: [ {name: x" }).ResponseAsync);
        var empty = await RpcAssert.FailsAsync(StatusCode.InvalidArgument, "INVALID_ARGUMENT", () => App.Admin.SimulatePolicyAsync(new SimulatePolicyRequest()).ResponseAsync);
        var backwards = await RpcAssert.FailsAsync(StatusCode.InvalidArgument, "INVALID_ARGUMENT", () => App.Admin.SimulatePolicyAsync(new SimulatePolicyRequest
        {
            PolicyYaml = TestPolicy.Yaml,
            StartTime = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(GovernanceApp.Start),
            EndTime = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(GovernanceApp.Start.AddDays(-1)),
        }).ResponseAsync);

        RpcAssert.NamesField(bad, "policy_yaml.tiers[0].rules[3].min_reasoning_tokens");
        RpcAssert.NamesField(bad, "policy_yaml.tiers[0].rules[3].default_reasoning_tokens");
        RpcAssert.NamesField(malformed, "policy_yaml");
        RpcAssert.NamesField(empty, "policy_yaml");
        RpcAssert.NamesField(backwards, "end_time");
        await RpcAssert.FailsAsync(StatusCode.NotFound, "ORG_NOT_FOUND", () => App.Admin.SimulatePolicyAsync(new SimulatePolicyRequest { PolicyYaml = TestPolicy.Yaml, OrgId = "ghost" }).ResponseAsync);
    }

    [Fact]
    public async Task An_org_admin_simulates_its_own_org_only()
    {
        var (secret, _) = await App.CreateKeyAsync(ApiKeyRole.OrgAdmin, "acme");
        var admin = App.AdminFor(secret);

        var own = await admin.SimulatePolicyAsync(new SimulatePolicyRequest { OrgId = "acme", PolicyYaml = TestPolicy.Yaml });
        var other = await Assert.ThrowsAsync<RpcException>(() => admin.SimulatePolicyAsync(new SimulatePolicyRequest { OrgId = "small", PolicyYaml = TestPolicy.Yaml }).ResponseAsync);
        var all = await Assert.ThrowsAsync<RpcException>(() => admin.SimulatePolicyAsync(new SimulatePolicyRequest { PolicyYaml = TestPolicy.Yaml }).ResponseAsync);

        Assert.Equal(0, own.Total.Calls);
        Assert.Equal((StatusCode.PermissionDenied, StatusCode.PermissionDenied), (other.StatusCode, all.StatusCode));
    }
}
