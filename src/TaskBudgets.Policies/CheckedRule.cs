namespace TaskBudgets.Policies;

/// <summary>
/// A tier's rule for one task type, as plain values: what a policy file's rule or the admin API's
/// TierRule says, with their defaults. Only a rule <see cref="PolicyChecks.Rule"/> returns is
/// checked; the server maps that to its domain and the CLI to the API's message.
/// </summary>
public sealed record CheckedRule
{
    /// <summary>The task type of the rule that applies when no other rule names the call's.</summary>
    public const string DefaultTaskType = "*";

    public const long DefaultAnswerTokens = 1024;

    public const PolicyEffort DefaultEffort = PolicyEffort.Medium;

    public const double DefaultEscalationFactor = 2.0;

    public const double DefaultPreliminaryFraction = 0.25;

    public const double DefaultSoftLimitThreshold = 0.8;

    public const double DefaultSoftLimitFloor = 0.25;

    public const int DefaultMinSamples = 200;

    public required string TaskType { get; init; }

    public long MinReasoningTokens { get; init; }

    public long DefaultReasoningTokens { get; init; }

    public long MaxReasoningTokens { get; init; }

    public long AnswerTokens { get; init; } = DefaultAnswerTokens;

    public long MaxOutputTokens { get; init; }

    public PolicyEffort Effort { get; init; } = DefaultEffort;

    public double EscalationFactor { get; init; } = DefaultEscalationFactor;

    public double PreliminaryFraction { get; init; } = DefaultPreliminaryFraction;

    public double SoftLimitThreshold { get; init; } = DefaultSoftLimitThreshold;

    public double SoftLimitFloor { get; init; } = DefaultSoftLimitFloor;

    public long TaskBudgetTokens { get; init; }

    /// <summary>Take the base budget from the calibration once it has <see cref="MinSamples"/> calls.</summary>
    public bool Adaptive { get; init; }

    public int MinSamples { get; init; } = DefaultMinSamples;
}
