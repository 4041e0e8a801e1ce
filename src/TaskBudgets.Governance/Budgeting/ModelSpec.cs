namespace TaskBudgets.Governance.Budgeting;

/// <summary>
/// A model from the policy's model table: its family, how it takes a thinking budget,
/// and its prices in micro-dollars per million tokens.
/// </summary>
public sealed record ModelSpec
{
    public required string Name { get; init; }

    public required ModelFamily Family { get; init; }

    public required ThinkingMode Thinking { get; init; }

    /// <summary>The smallest non-zero thinking budget the model accepts (Anthropic: 1024).</summary>
    public long MinThinkingTokens { get; init; }

    /// <summary>The largest thinking budget the model accepts; 0 for no model limit.</summary>
    public long MaxThinkingTokens { get; init; }

    public long InputMicrosPerMillion { get; init; }

    public long CachedInputMicrosPerMillion { get; init; }

    public long CacheWriteMicrosPerMillion { get; init; }

    public long OutputMicrosPerMillion { get; init; }

    /// <summary>Cost in micro-dollars, rounded up, saturating instead of overflowing.</summary>
    public long CostMicros(long inputTokens, long cachedInputTokens, long cacheWriteTokens, long outputTokens)
    {
        Int128 perMillion =
            ((Int128)inputTokens * InputMicrosPerMillion)
            + ((Int128)cachedInputTokens * CachedInputMicrosPerMillion)
            + ((Int128)cacheWriteTokens * CacheWriteMicrosPerMillion)
            + ((Int128)outputTokens * OutputMicrosPerMillion);
        Int128 micros = (perMillion + 999_999) / 1_000_000;
        return micros > long.MaxValue ? long.MaxValue : (long)micros;
    }

    /// <summary>The most output tokens that fit in <paramref name="costMicros"/> once the input is paid.</summary>
    public long OutputTokensAffordable(long costMicros, long inputTokens)
    {
        if (OutputMicrosPerMillion <= 0)
        {
            return long.MaxValue;
        }

        Int128 left = ((Int128)costMicros * 1_000_000) - ((Int128)inputTokens * InputMicrosPerMillion);
        if (left <= 0)
        {
            return 0;
        }

        Int128 tokens = left / OutputMicrosPerMillion;
        return tokens > long.MaxValue ? long.MaxValue : (long)tokens;
    }
}
