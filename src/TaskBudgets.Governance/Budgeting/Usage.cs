namespace TaskBudgets.Governance.Budgeting;

/// <summary>What a model call really used. Validated at the API: every count is 0..100,000,000.</summary>
public readonly record struct Usage(
    long InputTokens,
    long CachedInputTokens,
    long CacheWriteInputTokens,
    long OutputTokens,
    long ReasoningTokens)
{
    public long TotalTokens => InputTokens + CachedInputTokens + CacheWriteInputTokens + OutputTokens;

    public long CostMicros(ModelSpec model) =>
        model.CostMicros(InputTokens, CachedInputTokens, CacheWriteInputTokens, OutputTokens);
}
