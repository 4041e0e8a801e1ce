using TaskBudgets.Governance.Budgeting;
using TaskBudgets.Governance.Budgeting.Calibration;
using TaskBudgets.Governance.Quotas;
using static TaskBudgets.Governance.Tests.Infrastructure.DecisionFixtures;

namespace TaskBudgets.Governance.Tests.Budgeting.Calibration;

public class ExplorationDecisionTests
{
    private static readonly TierRule Rule = new()
    {
        TaskType = "support",
        MinReasoningTokens = 1024,
        DefaultReasoningTokens = 4096,
        MaxReasoningTokens = 16384,
        AnswerTokens = 1024,
        MaxOutputTokens = 32768,
        EscalationFactor = 2.0,
        SoftLimitThreshold = 1.0,
        Adaptive = true,
        MinSamples = 200,
    };

    private static CalibratedBudget Calibrated(long baseTokens, double samples = 1_000) =>
        new(samples, baseTokens, 6_000, 12_000, 16_384, 0, 0.5, false, 0.02, false);

    public static TheoryData<string, TierRule, double, long, double, double, double, long, bool> Cases() => new()
    {
        // name, rule, samples, base, share, factor, draw, expected reasoning tokens, explored
        { "share 0 never explores", Rule, 1_000, 4_000, 0.0, 1.5, 0.0, 4_000, false },
        { "a draw below the share raises the base by the factor", Rule, 1_000, 4_000, 0.02, 1.5, 0.01, 6_000, true },
        { "a draw at the share does not", Rule, 1_000, 4_000, 0.02, 1.5, 0.02, 4_000, false },
        { "a draw above the share does not", Rule, 1_000, 4_000, 0.02, 1.5, 0.7, 4_000, false },
        { "the raise stops at the rule's max", Rule, 1_000, 12_000, 0.02, 2.0, 0.0, 16_384, true },
        { "a static rule never explores", Rule with { Adaptive = false }, 1_000, 4_000, 1.0, 1.5, 0.0, 4_096, false },
        { "an adaptive rule still learning never explores", Rule, 199, 4_000, 1.0, 1.5, 0.0, 4_096, false },
        { "a factor of 1 grants nothing more", Rule, 1_000, 4_000, 1.0, 1.0, 0.0, 4_000, false },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void A_draw_within_the_share_raises_a_calibrated_base_by_the_factor_within_the_rules_max(
        string name, TierRule rule, double samples, long baseTokens, double share, double factor, double draw, long expected, bool explored)
    {
        Assert.NotEmpty(name);
        var d = BudgetDecision.Decide(rule, Features(null, 1_000), EffortOnly, ReadOnlySpan<QuotaHeadroom>.Empty, null, Calibrated(baseTokens, samples), new Exploration(share, factor, draw));
        Assert.Equal(expected, d.ReasoningTokens);
        Assert.Equal(explored, (d.Reasons & BudgetReasons.Exploration) != 0);
    }

    [Fact]
    public void An_exploring_call_is_still_capped_by_what_a_quota_has_left()
    {
        QuotaHeadroom[] quota = [new(QuotaMetric.ReasoningTokens, 100_000, 5_000)];
        var d = BudgetDecision.Decide(Rule, Features(null, 1_000), EffortOnly, quota, null, Calibrated(4_000), new Exploration(1.0, 1.5, 0.0));
        Assert.Equal(5_000, d.ReasoningTokens);
        Assert.Equal(BudgetReasons.Exploration | BudgetReasons.QuotaCap, d.Reasons & (BudgetReasons.Exploration | BudgetReasons.QuotaCap));
    }
}
