using TaskBudgets.Governance.Budgeting;

namespace TaskBudgets.Governance.Quotas;

/// <summary>What a grant reserves and what a report debits, per quota metric.</summary>
public static class MeteredAmounts
{
    /// <summary>What a grant reserves on a quota of <paramref name="metric"/> (DESIGN.md, "grant").</summary>
    public static long Reserved(QuotaMetric metric, long reasoningTokens, long maxOutputTokens, long estimatedInputTokens, ModelSpec model) => metric switch
    {
        QuotaMetric.Requests => 1,
        QuotaMetric.ReasoningTokens => reasoningTokens,
        QuotaMetric.OutputTokens => maxOutputTokens,
        QuotaMetric.TotalTokens => SaturatingAdd(maxOutputTokens, estimatedInputTokens),
        QuotaMetric.CostMicros => model.CostMicros(estimatedInputTokens, 0, 0, maxOutputTokens),
        _ => 0,
    };

    /// <summary>What a call that used <paramref name="usage"/> debits from a quota of <paramref name="metric"/>.</summary>
    public static long Used(QuotaMetric metric, in Usage usage, ModelSpec model) => metric switch
    {
        QuotaMetric.Requests => 1,
        QuotaMetric.ReasoningTokens => usage.ReasoningTokens,
        QuotaMetric.OutputTokens => usage.OutputTokens,
        QuotaMetric.TotalTokens => usage.TotalTokens,
        QuotaMetric.CostMicros => usage.CostMicros(model),
        _ => 0,
    };

    private static long SaturatingAdd(long a, long b) => a > long.MaxValue - b ? long.MaxValue : a + b;
}
