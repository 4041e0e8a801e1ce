using TaskBudgets.Governance.Budgeting;
using TaskBudgets.Governance.Budgeting.Calibration;
using TaskBudgets.Governance.Quotas;
using static TaskBudgets.Governance.Tests.Infrastructure.DecisionFixtures;

namespace TaskBudgets.Governance.Tests.Budgeting.Calibration;

public class AdaptiveDecisionTests
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

    private static CalibratedBudget Calibrated(double samples, long baseTokens = 1500, bool hint = false) =>
        new(samples, baseTokens, 6_000, 12_000, 16_384, hint ? 2.0 : 0, 0.5, hint, 0.02, false);

    private static CallFeatures Call(double? complexity = null, int attempt = 1, bool truncated = false) =>
        Features(complexity, 1_000, attempt, truncated);

    public static TheoryData<string, TierRule, double, long, long, bool> Cases() => new()
    {
        { "below min samples: the static default", Rule, 199, 1500, 4096, false },
        { "enough samples: the calibrated base", Rule, 200, 1500, 1500, true },
        { "a static rule ignores the calibration", Rule with { Adaptive = false }, 10_000, 1500, 4096, false },
        { "the base is clamped to the rule's min", Rule, 500, 300, 1024, true },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void An_adaptive_rule_takes_its_base_from_the_calibration_once_it_has_enough_samples(string name, TierRule rule, double samples, long baseTokens, long expected, bool adaptive)
    {
        Assert.NotEmpty(name);
        var calibration = Calibrated(samples, baseTokens);
        var d = BudgetDecision.Decide(rule, Call(), EffortOnly, ReadOnlySpan<QuotaHeadroom>.Empty, null, calibration);
        Assert.Equal(expected, d.ReasoningTokens);
        Assert.Equal(adaptive, (d.Reasons & BudgetReasons.Adaptive) != 0);
        Assert.Equal(adaptive ? samples : 0, d.Calibration.Samples);
    }

    [Fact]
    public void Escalation_after_a_truncation_climbs_the_calibrated_ladder_within_the_rules_max()
    {
        var calibration = Calibrated(1_000);
        long Attempt(int n) => BudgetDecision.Decide(Rule, Call(attempt: n, truncated: true), EffortOnly, ReadOnlySpan<QuotaHeadroom>.Empty, null, calibration).ReasoningTokens;
        Assert.Equal(6_000, Attempt(2));
        Assert.Equal(12_000, Attempt(3));
        Assert.Equal(16_384, Attempt(4));
        Assert.Equal(16_384, Attempt(9));

        var d = BudgetDecision.Decide(Rule, Call(attempt: 2, truncated: true), EffortOnly, ReadOnlySpan<QuotaHeadroom>.Empty, null, calibration);
        Assert.Equal(BudgetReasons.Adaptive | BudgetReasons.Escalated, d.Reasons & (BudgetReasons.Adaptive | BudgetReasons.Escalated));
        Assert.Equal(4.0, d.EscalationMultiplier, 6);
    }

    [Fact]
    public void A_learned_complexity_effect_moves_the_calibrated_base_and_an_unlearned_one_does_not()
    {
        var learned = Calibrated(1_000, 4_000, hint: true);
        long At(double c, CalibratedBudget cal) => BudgetDecision.Decide(Rule, Call(c), EffortOnly, ReadOnlySpan<QuotaHeadroom>.Empty, null, cal).ReasoningTokens;

        Assert.Equal(4_000, At(0.5, learned));
        Assert.Equal((long)Math.Round(4_000 * Math.Exp(2.0 * 0.4)), At(0.9, learned));
        Assert.Equal((long)Math.Round(4_000 * Math.Exp(-2.0 * 0.4)), At(0.1, learned));
        Assert.Equal(4_000, At(0.9, Calibrated(1_000, 4_000, hint: false)));
    }

    [Fact]
    public void Learned_hint_bands_scale_the_base_and_the_escalation_ladder_by_the_bands_factor()
    {
        var bands = Calibrated(1_000, 2_000, hint: true) with { HintFactors = [0.25, 0.5, 0.5, 1, 1, 1, 1, 2, 2, 4] };
        BudgetDecision At(double? c, int attempt = 1) => BudgetDecision.Decide(Rule, Call(c, attempt, attempt > 1), EffortOnly, ReadOnlySpan<QuotaHeadroom>.Empty, null, bands);

        Assert.Equal(2_000, At(null).ReasoningTokens);
        Assert.Equal(2_000, At(0.5).ReasoningTokens);
        Assert.Equal(4_000, At(0.75).ReasoningTokens);
        Assert.Equal(8_000, At(1.0).ReasoningTokens);
        Assert.Equal(1_024, At(0.05).ReasoningTokens); // 500, clamped to the rule's min
        Assert.Equal(4.0, At(0.95).ComplexityFactor);

        // The ladder was worked out on hint-adjusted needs too: a hard call's retry is the band's factor times it.
        Assert.Equal(12_000, At(0.75, attempt: 2).ReasoningTokens);
        Assert.Equal(6_000, At(null, attempt: 2).ReasoningTokens);
    }

    [Fact]
    public void Until_an_adaptive_rule_has_learned_it_ignores_the_hint_instead_of_scaling_its_min_to_max()
    {
        var d = BudgetDecision.Decide(Rule, Call(0.9), EffortOnly, ReadOnlySpan<QuotaHeadroom>.Empty, null, Calibrated(10));
        var asStatic = BudgetDecision.Decide(Rule with { Adaptive = false }, Call(0.9), EffortOnly, ReadOnlySpan<QuotaHeadroom>.Empty, null, Calibrated(10));

        Assert.Equal(4_096, d.ReasoningTokens);
        Assert.Equal(0, (long)(d.Reasons & BudgetReasons.Complexity));
        Assert.Equal(14_848, asStatic.ReasoningTokens); // 1,024 + 0.9 x (16,384 - 1,024)
    }
}
