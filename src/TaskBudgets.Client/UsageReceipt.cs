namespace TaskBudgets.Client;

/// <summary>What the service answered to a usage report.</summary>
public sealed record UsageReceipt
{
    /// <summary>
    /// True when the service recorded the report. False only for a fallback grant's report that
    /// could not reach the service either (fail-open): the usage is then only in the SDK's log.
    /// </summary>
    public required bool Recorded { get; init; }

    /// <summary>True when the service had already settled this report (a retry whose first answer was lost): nothing was counted twice.</summary>
    public bool Duplicate { get; init; }

    /// <summary>True when the grant had expired or been released before the report; the usage is counted all the same.</summary>
    public bool Late { get; init; }

    /// <summary>True when the call used more than its grant; the usage is counted in full.</summary>
    public bool OverGrant { get; init; }

    /// <summary>True when the call stopped on <see cref="StopReason.MaxTokens"/>.</summary>
    public bool Truncated { get; init; }

    /// <summary>Cost of the call in micro-dollars (1e-6 USD) at the model's prices.</summary>
    public long CostMicros { get; init; }

    /// <summary>When the report was first settled; null when it was not <see cref="Recorded"/>.</summary>
    public DateTimeOffset? SettledAt { get; init; }

    /// <summary>What was settled on every quota that applied.</summary>
    public IReadOnlyList<QuotaSettlement> Quotas { get; init; } = [];
}
