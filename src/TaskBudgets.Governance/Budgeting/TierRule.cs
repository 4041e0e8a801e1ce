namespace TaskBudgets.Governance.Budgeting;

/// <summary>
/// A tier's budget rule for one task type (or "*", the tier's default rule).
/// Validated when a policy is loaded, so the decision can trust it.
/// </summary>
public sealed record TierRule
{
    /// <summary>The task type this rule is for; <see cref="DefaultTaskType"/> for the tier's default.</summary>
    public const string DefaultTaskType = "*";

    public required string TaskType { get; init; }

    public long MinReasoningTokens { get; init; }

    public long DefaultReasoningTokens { get; init; }

    public long MaxReasoningTokens { get; init; }

    /// <summary>Output allowance beyond reasoning, for the visible answer.</summary>
    public long AnswerTokens { get; init; }

    /// <summary>Hard cap on output tokens, reasoning included.</summary>
    public long MaxOutputTokens { get; init; }

    public ReasoningEffort Effort { get; init; } = ReasoningEffort.Medium;

    /// <summary>Budget multiplier per attempt after a truncated (MAX_TOKENS) attempt.</summary>
    public double EscalationFactor { get; init; } = 2.0;

    /// <summary>Fraction of the budget a preliminary-phase call gets.</summary>
    public double PreliminaryFraction { get; init; } = 0.25;

    /// <summary>Quota utilisation (0..1) past which budgets shrink toward the minimum.</summary>
    public double SoftLimitThreshold { get; init; } = 0.8;

    /// <summary>Fraction of the budget above the minimum that is kept when a quota is fully used.</summary>
    public double SoftLimitFloor { get; init; } = 0.25;

    /// <summary>Advisory budget for a whole agentic loop; 0 for none.</summary>
    public long TaskBudgetTokens { get; init; }

    /// <summary>The base budget comes from the calibration once it has <see cref="MinSamples"/> calls.</summary>
    public bool Adaptive { get; init; }

    /// <summary>Decayed calls the calibration needs before an adaptive rule leaves its static default.</summary>
    public int MinSamples { get; init; } = DefaultMinSamples;

    public const int DefaultMinSamples = 200;

    public bool IsDefault => TaskType == DefaultTaskType;
}
