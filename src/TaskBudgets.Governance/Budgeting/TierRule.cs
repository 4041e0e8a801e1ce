namespace TaskBudgets.Governance.Budgeting;

/// <summary>
/// A tier's budget rule for one task type (or "*", the tier's default rule).
/// Validated when a policy is loaded, so the decision can trust it.
/// </summary>
public sealed record TierRule
{
    /// <summary>The task type this rule is for; <see cref="DefaultTaskType"/> for the tier's default.</summary>
    public const string DefaultTaskType = "*";

    // The defaults of a rule's optional fields, for every way a rule is written (policy file,
    // admin API), so that a field left out means the same everywhere.
    public const long DefaultAnswerTokens = 1024;

    public const ReasoningEffort DefaultEffort = ReasoningEffort.Medium;

    public const double DefaultEscalationFactor = 2.0;

    public const double DefaultPreliminaryFraction = 0.25;

    public const double DefaultSoftLimitThreshold = 0.8;

    public const double DefaultSoftLimitFloor = 0.25;

    public const int DefaultMinSamples = 200;

    public required string TaskType { get; init; }

    public long MinReasoningTokens { get; init; }

    public long DefaultReasoningTokens { get; init; }

    public long MaxReasoningTokens { get; init; }

    /// <summary>Output allowance beyond reasoning, for the visible answer.</summary>
    public long AnswerTokens { get; init; } = DefaultAnswerTokens;

    /// <summary>Hard cap on output tokens, reasoning included.</summary>
    public long MaxOutputTokens { get; init; }

    public ReasoningEffort Effort { get; init; } = DefaultEffort;

    /// <summary>Budget multiplier per attempt after a truncated (MAX_TOKENS) attempt.</summary>
    public double EscalationFactor { get; init; } = DefaultEscalationFactor;

    /// <summary>Fraction of the budget a preliminary-phase call gets.</summary>
    public double PreliminaryFraction { get; init; } = DefaultPreliminaryFraction;

    /// <summary>Quota utilisation (0..1) past which budgets shrink toward the minimum.</summary>
    public double SoftLimitThreshold { get; init; } = DefaultSoftLimitThreshold;

    /// <summary>Fraction of the budget above the minimum that is kept when a quota is fully used.</summary>
    public double SoftLimitFloor { get; init; } = DefaultSoftLimitFloor;

    /// <summary>Advisory budget for a whole agentic loop; 0 for none.</summary>
    public long TaskBudgetTokens { get; init; }

    /// <summary>The base budget comes from the calibration once it has <see cref="MinSamples"/> calls.</summary>
    public bool Adaptive { get; init; }

    /// <summary>Decayed calls the calibration needs before an adaptive rule leaves its static default.</summary>
    public int MinSamples { get; init; } = DefaultMinSamples;

    public bool IsDefault => TaskType == DefaultTaskType;
}
