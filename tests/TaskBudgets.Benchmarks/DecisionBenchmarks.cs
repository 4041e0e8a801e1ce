using BenchmarkDotNet.Attributes;
using TaskBudgets.Governance.Budgeting;
using TaskBudgets.Governance.Budgeting.Calibration;
using TaskBudgets.Governance.Quotas;

namespace TaskBudgets.Benchmarks;

/// <summary>
/// The budget decision on the GetBudget hot path. It is a pure function over structs and
/// spans: the target is 0 B allocated per call (see the Allocated column).
/// </summary>
[MemoryDiagnoser]
public class DecisionBenchmarks
{
    private static readonly TierRule Rule = new()
    {
        TaskType = "support",
        MinReasoningTokens = 1024,
        DefaultReasoningTokens = 2048,
        MaxReasoningTokens = 8192,
        AnswerTokens = 2048,
        MaxOutputTokens = 16384,
        Effort = ReasoningEffort.Low,
        EscalationFactor = 2.0,
        SoftLimitThreshold = 0.8,
        SoftLimitFloor = 0.25,
        TaskBudgetTokens = 400_000,
    };

    private static readonly ModelSpec Claude = new()
    {
        Name = "claude-sonnet-4-5",
        Family = ModelFamily.Anthropic,
        Thinking = ThinkingMode.Budget,
        MinThinkingTokens = 1024,
        InputMicrosPerMillion = 3_000_000,
        CachedInputMicrosPerMillion = 300_000,
        CacheWriteMicrosPerMillion = 3_750_000,
        OutputMicrosPerMillion = 15_000_000,
    };

    // The sample policy's "demo" org: reasoning/day, cost/month, requests/minute, total/hour per principal.
    private readonly QuotaHeadroom[] roomy =
    [
        new(QuotaMetric.ReasoningTokens, 5_000_000, 4_000_000),
        new(QuotaMetric.CostMicros, 500_000_000, 450_000_000),
        new(QuotaMetric.Requests, 600, 500),
        new(QuotaMetric.TotalTokens, 2_000_000, 1_900_000),
    ];

    // Past the soft limit and below the budget: the soft-limit and quota-cap branches run.
    private readonly QuotaHeadroom[] tight =
    [
        new(QuotaMetric.ReasoningTokens, 5_000_000, 3_000),
        new(QuotaMetric.CostMicros, 500_000_000, 200_000_000),
        new(QuotaMetric.Requests, 600, 500),
        new(QuotaMetric.OutputTokens, 2_000_000, 6_000),
    ];

    private readonly CallFeatures plain = new(null, 1_200, 1, false, CallPhase.Standard, CallPriority.Normal);

    private readonly CallFeatures shaped = new(0.7, 40_000, 3, true, CallPhase.Standard, CallPriority.High);

    private static readonly TierRule AdaptiveRule = Rule with { Adaptive = true, MinSamples = 200 };

    // What CalibrationSnapshot.Recommend hands the decision: a learned base, ladder and hint effect.
    private readonly CalibratedBudget calibrated = new(5_000, 3_100, 6_200, 8_000, 8_192, 1.4, 0.5, true, 0.02, false);

    private readonly CalibratedBudget banded = new(5_000, 3_100, 6_200, 8_000, 8_192, 1.4, 0.5, true, 0.02, false, [0.3, 0.4, 0.5, 0.7, 0.9, 1.1, 1.4, 1.8, 2.4, 3.5]);

    /// <summary>The common case: default budget, roomy quotas, no task.</summary>
    [Benchmark(Baseline = true)]
    public long Default() => BudgetDecision.Decide(Rule, plain, Claude, roomy).ReasoningTokens;

    /// <summary>Complexity, long input, priority and escalation, with a task budget.</summary>
    [Benchmark]
    public long Shaped() => BudgetDecision.Decide(Rule, shaped, Claude, roomy, 250_000).ReasoningTokens;

    /// <summary>An adaptive rule: calibrated base moved by the learned complexity effect, calibrated escalation.</summary>
    [Benchmark]
    public long Adaptive() => BudgetDecision.Decide(AdaptiveRule, shaped, Claude, roomy, null, calibrated).ReasoningTokens;

    /// <summary>An adaptive rule with learned hint bands: the base fitted to hint-adjusted usage, times the hint band's factor.</summary>
    [Benchmark]
    public long AdaptiveHintBands() => BudgetDecision.Decide(AdaptiveRule, shaped, Claude, roomy, null, banded).ReasoningTokens;

    /// <summary>Soft limit and quota cap (a REDUCED decision).</summary>
    [Benchmark]
    public long Capped() => BudgetDecision.Decide(Rule, plain, Claude, tight).MaxOutputTokens;
}
