using TaskBudgets.Governance.Budgeting;
using TaskBudgets.Governance.Quotas;
using static TaskBudgets.Governance.Tests.Infrastructure.DecisionFixtures;

namespace TaskBudgets.Governance.Tests.Budgeting;

public class BudgetDecisionTests
{
    private static readonly TierRule Rule = new()
    {
        TaskType = "research",
        MinReasoningTokens = 1000,
        DefaultReasoningTokens = 4000,
        MaxReasoningTokens = 16000,
        AnswerTokens = 2000,
        MaxOutputTokens = 20000,
        Effort = ReasoningEffort.Medium,
        EscalationFactor = 2.0,
        PreliminaryFraction = 0.25,
        SoftLimitThreshold = 0.8,
        SoftLimitFloor = 0.25,
        TaskBudgetTokens = 50000,
    };

    private static BudgetDecision Decide(in CallFeatures features, params QuotaHeadroom[] quotas) =>
        BudgetDecision.Decide(Rule, features, EffortOnly, quotas);

    public static TheoryData<string, double?, long, int, bool, CallPhase, CallPriority, long> Shapes() => new()
    {
        // name, complexity, input, attempt, truncated, phase, priority, expected reasoning
        { "default", null, 0, 1, false, CallPhase.Standard, CallPriority.Normal, 4000 },
        { "complexity 0 is the min", 0.0, 0, 1, false, CallPhase.Standard, CallPriority.Normal, 1000 },
        { "complexity 1 is the max", 1.0, 0, 1, false, CallPhase.Standard, CallPriority.Normal, 16000 },
        { "complexity 0.5 is halfway", 0.5, 0, 1, false, CallPhase.Standard, CallPriority.Normal, 8500 },
        { "long input saturates at x1.5", null, 200_000, 1, false, CallPhase.Standard, CallPriority.Normal, 6000 },
        { "short input changes nothing", null, 16_384, 1, false, CallPhase.Standard, CallPriority.Normal, 4000 },
        { "preliminary is the fraction", null, 0, 1, false, CallPhase.Preliminary, CallPriority.Normal, 1000 },
        { "deep is the max", null, 0, 1, false, CallPhase.Deep, CallPriority.Normal, 16000 },
        { "low priority", null, 0, 1, false, CallPhase.Standard, CallPriority.Low, 3000 },
        { "high priority", null, 0, 1, false, CallPhase.Standard, CallPriority.High, 5000 },
        { "attempt 2 after truncation doubles", null, 0, 2, true, CallPhase.Standard, CallPriority.Normal, 8000 },
        { "attempt 3 after truncation quadruples", null, 0, 3, true, CallPhase.Standard, CallPriority.Normal, 16000 },
        { "escalation stops at the max", null, 0, 9, true, CallPhase.Standard, CallPriority.Normal, 16000 },
        { "a retry without truncation does not escalate", null, 0, 2, false, CallPhase.Standard, CallPriority.Normal, 4000 },
        { "below the min is clamped up", 0.0, 0, 1, false, CallPhase.Preliminary, CallPriority.Low, 1000 },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Task_characteristics_shape_the_budget(string name, double? complexity, long input, int attempt, bool truncated, CallPhase phase, CallPriority priority, long expected)
    {
        var decision = Decide(Features(complexity, input, attempt, truncated, phase, priority));

        Assert.False(decision.Denied, name);
        Assert.Equal(DecisionKind.Granted, decision.Kind);
        Assert.Equal(expected, decision.ReasoningTokens);
        Assert.Equal(Math.Min(Rule.MaxOutputTokens, expected + Rule.AnswerTokens), decision.MaxOutputTokens);
    }

    [Fact]
    public void Escalation_records_its_multiplier_and_raises_effort()
    {
        var decision = Decide(Features(attempt: 2, truncated: true));

        Assert.True(decision.Reasons.HasFlag(BudgetReasons.Escalated));
        Assert.Equal(2.0, decision.EscalationMultiplier);
        Assert.Equal(ReasoningEffort.High, decision.Effort);
    }

    [Fact]
    public void Preliminary_phase_thinks_with_low_effort()
    {
        var decision = Decide(Features(phase: CallPhase.Preliminary));

        Assert.Equal(ReasoningEffort.Low, decision.Effort);
        Assert.True(decision.Reasons.HasFlag(BudgetReasons.PreliminaryPhase));
    }

    [Fact]
    public void The_default_rule_says_so()
    {
        var decision = BudgetDecision.Decide(Rule with { TaskType = "*" }, Features(), EffortOnly, []);

        Assert.True(decision.Reasons.HasFlag(BudgetReasons.DefaultRule));
        Assert.False(decision.Reasons.HasFlag(BudgetReasons.TierRule));
    }

    [Theory]
    [InlineData(0.0, 4000)]
    [InlineData(0.8, 4000)]
    [InlineData(0.9, 2875)] // 1000 + 3000 * (0.25 + 0.75 * 0.5)
    [InlineData(1.0, 1750)] // 1000 + 3000 * 0.25: the floor
    public void Past_the_soft_threshold_the_budget_shrinks_smoothly_toward_the_min(double utilisation, long expected)
    {
        var limit = 1_000_000L;
        var remaining = (long)Math.Round(limit * (1 - utilisation));

        // A big enough remaining for the budget itself; utilisation alone shrinks it.
        var decision = Decide(Features(), new QuotaHeadroom(QuotaMetric.Requests, limit, Math.Max(1, remaining)));

        Assert.Equal(expected, decision.ReasoningTokens, tolerance: 2);
        Assert.Equal(utilisation > 0.8 ? DecisionKind.Reduced : DecisionKind.Granted, decision.Kind);
        Assert.Equal(utilisation > 0.8, decision.Reasons.HasFlag(BudgetReasons.SoftLimit));
    }

    public static TheoryData<string, QuotaMetric, long, long, long> Caps() => new()
    {
        // name, metric, remaining, expected reasoning, expected max output (default budget 4000 + 2000 answer)
        { "reasoning quota caps reasoning", QuotaMetric.ReasoningTokens, 2500, 2500, 4500 },
        { "output quota caps output, reasoning gives way", QuotaMetric.OutputTokens, 5000, 3000, 5000 },
        { "total quota counts the input", QuotaMetric.TotalTokens, 6000, 3000, 5000 },
        { "cost quota at the model's prices", QuotaMetric.CostMicros, 51_000, 3000, 5000 },
        { "plenty left changes nothing", QuotaMetric.OutputTokens, 100_000_000, 4000, 6000 },
    };

    [Theory]
    [MemberData(nameof(Caps))]
    public void Each_quota_metric_caps_the_budget_to_what_is_left(string name, QuotaMetric metric, long remaining, long reasoning, long output)
    {
        // Input 1000 tokens: total quota 6000 leaves 5000 output; cost 51,000 micros pays 1,000 input (1,000 micros) and 5,000 output (50,000).
        // Soft limits off: this is about the hard cap alone.
        var decision = BudgetDecision.Decide(Rule with { SoftLimitThreshold = 1.0 }, Features(input: 1000), EffortOnly, [new QuotaHeadroom(metric, 1_000_000_000, remaining)]);

        Assert.False(decision.Denied, name);
        Assert.Equal(reasoning, decision.ReasoningTokens);
        Assert.Equal(output, decision.MaxOutputTokens);
        var capped = reasoning < 4000;
        Assert.Equal(capped, decision.Reasons.HasFlag(BudgetReasons.QuotaCap));
        Assert.Equal(capped ? 0 : -1, decision.LimitingQuota);
    }

    public static TheoryData<string, QuotaMetric, long> Exhaustion() => new()
    {
        { "no requests left", QuotaMetric.Requests, 0 },
        { "reasoning left below the rule's min", QuotaMetric.ReasoningTokens, 999 },
        { "output left below min reasoning plus answer", QuotaMetric.OutputTokens, 2999 },
        { "total left below min plus answer plus input", QuotaMetric.TotalTokens, 3999 },
        { "cost left below the minimum call", QuotaMetric.CostMicros, 30_000 },
        { "nothing left at all", QuotaMetric.OutputTokens, 0 },
    };

    [Theory]
    [MemberData(nameof(Exhaustion))]
    public void A_quota_that_cannot_hold_the_rules_minimum_denies(string name, QuotaMetric metric, long remaining)
    {
        var quotas = new[]
        {
            new QuotaHeadroom(QuotaMetric.Requests, 1000, 1000),
            new QuotaHeadroom(metric, 1_000_000, remaining),
        };

        var decision = Decide(Features(input: 1000), quotas);

        Assert.True(decision.Denied, name);
        Assert.Equal(1, decision.LimitingQuota);
    }

    [Fact]
    public void The_least_of_several_quotas_wins()
    {
        var decision = Decide(
            Features(),
            new QuotaHeadroom(QuotaMetric.ReasoningTokens, 5000, 3000),
            new QuotaHeadroom(QuotaMetric.ReasoningTokens, 5000, 2000),
            new QuotaHeadroom(QuotaMetric.ReasoningTokens, 5000, 2500));

        Assert.Equal(2000, decision.ReasoningTokens);
        Assert.Equal(1, decision.LimitingQuota);
        Assert.Equal(DecisionKind.Reduced, decision.Kind);
    }

    [Fact]
    public void A_model_with_a_thinking_floor_gets_at_least_the_floor()
    {
        var rule = Rule with { MinReasoningTokens = 0, DefaultReasoningTokens = 500 };

        var decision = BudgetDecision.Decide(rule, Features(), Claude, []);

        Assert.Equal(1024, decision.ReasoningTokens);
        Assert.True(decision.Reasons.HasFlag(BudgetReasons.ProviderMinimum));
    }

    [Fact]
    public void A_model_with_a_thinking_ceiling_is_clamped_to_it()
    {
        var decision = BudgetDecision.Decide(Rule, Features(phase: CallPhase.Deep), Gemini, []);

        Assert.Equal(8192, decision.ReasoningTokens);
    }

    [Fact]
    public void Under_a_quota_cap_a_floored_model_stops_thinking_rather_than_overspend()
    {
        var rule = Rule with { MinReasoningTokens = 0, DefaultReasoningTokens = 4000 };

        var decision = BudgetDecision.Decide(rule, Features(), Claude, [new QuotaHeadroom(QuotaMetric.ReasoningTokens, 10_000, 500)]);

        Assert.False(decision.Denied);
        Assert.Equal(0, decision.ReasoningTokens);
        Assert.Equal(rule.AnswerTokens, decision.MaxOutputTokens);
    }

    [Fact]
    public void The_task_budget_is_the_rules_or_what_the_loop_has_left()
    {
        Assert.Equal(50000, Decide(Features()).TaskBudgetTokens);

        var continuing = BudgetDecision.Decide(Rule, Features(), EffortOnly, [], taskBudgetRemaining: 1234);

        Assert.Equal(1234, continuing.TaskBudgetTokens);
        Assert.True(continuing.Reasons.HasFlag(BudgetReasons.TaskBudget));
    }

    [Fact]
    public void The_decision_is_deterministic()
    {
        var quotas = new[] { new QuotaHeadroom(QuotaMetric.OutputTokens, 100_000, 9_000) };
        var first = Decide(Features(0.37, 20_000, 2, true, CallPhase.Standard, CallPriority.High), quotas);
        var second = Decide(Features(0.37, 20_000, 2, true, CallPhase.Standard, CallPriority.High), quotas);

        Assert.Equal(first, second);
    }

    [Fact]
    public void Huge_numbers_do_not_overflow()
    {
        var rule = Rule with { MaxReasoningTokens = 10_000_000, MaxOutputTokens = 10_002_000 };

        var decision = BudgetDecision.Decide(rule, Features(attempt: 100, truncated: true, input: 10_000_000), EffortOnly, [new QuotaHeadroom(QuotaMetric.CostMicros, long.MaxValue / 4, long.MaxValue / 4)]);

        Assert.Equal(10_000_000, decision.ReasoningTokens);
    }
}
