namespace TaskBudgets.Governance.Quotas;

/// <summary>What a quota counts.</summary>
public enum QuotaMetric
{
    ReasoningTokens = 1,
    OutputTokens = 2,
    TotalTokens = 3,
    Requests = 4,
    CostMicros = 5,
}

/// <summary>A calendar-aligned UTC window.</summary>
public enum WindowKind
{
    Minute = 1,
    Hour = 2,
    Day = 3,
    Month = 4,
}

/// <summary>Who shares a quota.</summary>
public enum QuotaScope
{
    Org = 1,
    Project = 2,
    Principal = 3,
}
