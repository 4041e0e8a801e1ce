namespace TaskBudgets.Policies;

/// <summary>A checked model: defaults filled in, prices in micro-USD per million tokens.</summary>
public sealed record CheckedModel(
    string Name,
    PolicyFamily Family,
    PolicyThinking Thinking,
    long MinThinkingTokens,
    long MaxThinkingTokens,
    long InputMicrosPerMillion,
    long CachedInputMicrosPerMillion,
    long CacheWriteMicrosPerMillion,
    long OutputMicrosPerMillion);
