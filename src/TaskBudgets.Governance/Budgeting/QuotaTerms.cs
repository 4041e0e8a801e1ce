namespace TaskBudgets.Governance.Budgeting;

/// <summary>What a quota counts.</summary>
public enum QuotaMetric
{
    ReasoningTokens = 1,
    OutputTokens = 2,
    TotalTokens = 3,
    Requests = 4,
    CostMicros = 5,
}

/// <summary>The snake_case names of quota terms, as the policy file, errors and metrics spell them.</summary>
public static class QuotaTermNames
{
    public static string Label(this QuotaMetric metric) => metric switch
    {
        QuotaMetric.ReasoningTokens => "reasoning_tokens",
        QuotaMetric.OutputTokens => "output_tokens",
        QuotaMetric.TotalTokens => "total_tokens",
        QuotaMetric.Requests => "requests",
        QuotaMetric.CostMicros => "cost_micros",
        _ => "unknown",
    };

    public static string Label(this WindowKind window) => window.ToString().ToLowerInvariant();

    public static string Label(this QuotaScope scope) => scope.ToString().ToLowerInvariant();
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
