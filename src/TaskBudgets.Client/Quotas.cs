namespace TaskBudgets.Client;

/// <summary>What a quota counts.</summary>
public enum QuotaMetric
{
    /// <summary>Not set.</summary>
    Unspecified = 0,

    /// <summary>Reasoning (thinking) tokens.</summary>
    ReasoningTokens = 1,

    /// <summary>Output tokens, reasoning included.</summary>
    OutputTokens = 2,

    /// <summary>Input (cached or not) plus output tokens.</summary>
    TotalTokens = 3,

    /// <summary>Calls.</summary>
    Requests = 4,

    /// <summary>Cost in micro-dollars (1e-6 USD).</summary>
    CostMicros = 5,
}

/// <summary>A calendar-aligned UTC window.</summary>
public enum QuotaWindow
{
    /// <summary>Not set.</summary>
    Unspecified = 0,

    /// <summary>Starts at second 0 of each minute.</summary>
    Minute = 1,

    /// <summary>Starts at minute 0 of each hour.</summary>
    Hour = 2,

    /// <summary>Starts at 00:00 UTC each day.</summary>
    Day = 3,

    /// <summary>Starts on the first day of the calendar month, 00:00 UTC.</summary>
    Month = 4,
}

/// <summary>Who shares a quota.</summary>
public enum QuotaScope
{
    /// <summary>Not set.</summary>
    Unspecified = 0,

    /// <summary>The whole org.</summary>
    Org = 1,

    /// <summary>One project of the org.</summary>
    Project = 2,

    /// <summary>One principal (end user) of the org.</summary>
    Principal = 3,
}

/// <summary>One quota that applied to a grant, as the deciding replica saw it.</summary>
/// <param name="QuotaId">The quota's id, e.g. "demo:reasoning_tokens:day".</param>
/// <param name="Metric">What it counts; the numbers are in its unit.</param>
/// <param name="Window">Its calendar window.</param>
/// <param name="Scope">Who shares it.</param>
/// <param name="Limit">The most the window may use.</param>
/// <param name="Remaining">What is left after this grant's reservation (an estimate across replicas).</param>
/// <param name="Reserved">What this grant reserved on it.</param>
/// <param name="WindowResetsAt">When the current window ends (UTC).</param>
public sealed record QuotaSnapshot(
    string QuotaId,
    QuotaMetric Metric,
    QuotaWindow Window,
    QuotaScope Scope,
    long Limit,
    long Remaining,
    long Reserved,
    DateTimeOffset WindowResetsAt);

/// <summary>What a usage report settled on one quota.</summary>
/// <param name="QuotaId">The quota's id.</param>
/// <param name="Metric">What it counts; the numbers are in its unit.</param>
/// <param name="Reserved">What the grant had reserved (0 for a report without a grant).</param>
/// <param name="Used">What the call really used, debited to the quota.</param>
/// <param name="WindowStart">The window the usage was counted in.</param>
public sealed record QuotaSettlement(string QuotaId, QuotaMetric Metric, long Reserved, long Used, DateTimeOffset WindowStart);
