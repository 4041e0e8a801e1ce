namespace TaskBudgets.Governance.Budgeting;

/// <summary>What the caller tells about a call so its budget can fit it.</summary>
/// <param name="Complexity">0..1, or null for the rule's default budget.</param>
/// <param name="EstimatedInputTokens">Estimated input size of the call.</param>
/// <param name="Attempt">1-based attempt number.</param>
/// <param name="PreviousAttemptTruncated">The previous attempt stopped on MAX_TOKENS.</param>
public readonly record struct CallFeatures(
    double? Complexity,
    long EstimatedInputTokens,
    int Attempt,
    bool PreviousAttemptTruncated,
    CallPhase Phase,
    CallPriority Priority)
{
    /// <summary>
    /// The reasoning budget the previous (truncated) attempt was granted, as the caller says; 0
    /// when it does not say (the decision then takes its own ladder's previous step).
    /// </summary>
    public long PreviousReasoningTokens { get; init; }
}
