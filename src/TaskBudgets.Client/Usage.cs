namespace TaskBudgets.Client;

/// <summary>
/// What a model call really used, in the service's terms. Build it from a provider's usage block with
/// <see cref="FromAnthropic"/>, <see cref="FromOpenAi"/> or <see cref="FromGemini"/> (plain numbers:
/// no dependency on any provider SDK), or directly.
/// </summary>
public sealed record Usage
{
    /// <summary>A usage report's token counts.</summary>
    /// <param name="inputTokens">Input tokens billed at the full rate: neither read from nor written to a prompt cache.</param>
    /// <param name="outputTokens">Output tokens, reasoning included.</param>
    /// <param name="reasoningTokens">Reasoning (thinking) tokens, a part of <paramref name="outputTokens"/>.</param>
    /// <param name="cachedInputTokens">Input tokens read from a prompt cache.</param>
    /// <param name="cacheWriteInputTokens">Input tokens written to a prompt cache.</param>
    /// <exception cref="ArgumentOutOfRangeException">A count is negative, or reasoning exceeds output.</exception>
    public Usage(long inputTokens, long outputTokens, long reasoningTokens = 0, long cachedInputTokens = 0, long cacheWriteInputTokens = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(inputTokens);
        ArgumentOutOfRangeException.ThrowIfNegative(outputTokens);
        ArgumentOutOfRangeException.ThrowIfNegative(reasoningTokens);
        ArgumentOutOfRangeException.ThrowIfNegative(cachedInputTokens);
        ArgumentOutOfRangeException.ThrowIfNegative(cacheWriteInputTokens);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(reasoningTokens, outputTokens);
        InputTokens = inputTokens;
        OutputTokens = outputTokens;
        ReasoningTokens = reasoningTokens;
        CachedInputTokens = cachedInputTokens;
        CacheWriteInputTokens = cacheWriteInputTokens;
    }

    /// <summary>Input tokens billed at the full rate: neither read from nor written to a prompt cache.</summary>
    public long InputTokens { get; }

    /// <summary>Input tokens read from a prompt cache.</summary>
    public long CachedInputTokens { get; }

    /// <summary>Input tokens written to a prompt cache.</summary>
    public long CacheWriteInputTokens { get; }

    /// <summary>Output tokens, reasoning included.</summary>
    public long OutputTokens { get; }

    /// <summary>Reasoning (thinking) tokens, a part of <see cref="OutputTokens"/>.</summary>
    public long ReasoningTokens { get; }

    /// <summary>
    /// From an Anthropic Messages API <c>usage</c> block. Anthropic's <c>input_tokens</c> already
    /// excludes cache reads and writes, and <c>output_tokens</c> already includes thinking.
    /// </summary>
    /// <param name="inputTokens"><c>usage.input_tokens</c>.</param>
    /// <param name="outputTokens"><c>usage.output_tokens</c> (thinking included).</param>
    /// <param name="cacheCreationInputTokens"><c>usage.cache_creation_input_tokens</c>.</param>
    /// <param name="cacheReadInputTokens"><c>usage.cache_read_input_tokens</c>.</param>
    /// <param name="thinkingTokens"><c>usage.output_tokens_details.thinking_tokens</c>, when the response has it.</param>
    public static Usage FromAnthropic(long inputTokens, long outputTokens, long cacheCreationInputTokens = 0, long cacheReadInputTokens = 0, long thinkingTokens = 0) =>
        new(inputTokens, outputTokens, thinkingTokens, cacheReadInputTokens, cacheCreationInputTokens);

    /// <summary>
    /// From an OpenAI <c>usage</c> block (Chat Completions names; the Responses API's
    /// <c>input_tokens</c>, <c>output_tokens</c>, <c>input_tokens_details.cached_tokens</c> and
    /// <c>output_tokens_details.reasoning_tokens</c> mean the same). OpenAI's prompt count includes
    /// the cached tokens, so the full-rate input is <c>prompt_tokens - cached_tokens</c> (never below 0).
    /// </summary>
    /// <param name="promptTokens"><c>usage.prompt_tokens</c>, cached tokens included.</param>
    /// <param name="completionTokens"><c>usage.completion_tokens</c>, reasoning included.</param>
    /// <param name="cachedTokens"><c>usage.prompt_tokens_details.cached_tokens</c>.</param>
    /// <param name="reasoningTokens"><c>usage.completion_tokens_details.reasoning_tokens</c>.</param>
    public static Usage FromOpenAi(long promptTokens, long completionTokens, long cachedTokens = 0, long reasoningTokens = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(promptTokens);
        ArgumentOutOfRangeException.ThrowIfNegative(cachedTokens);
        return new(Math.Max(0, promptTokens - cachedTokens), completionTokens, reasoningTokens, cachedTokens);
    }

    /// <summary>
    /// From a Gemini <c>usageMetadata</c> block. Gemini's prompt count includes cached content, and
    /// its candidates count excludes thoughts, so input is <c>promptTokenCount - cachedContentTokenCount</c>
    /// (never below 0) and output is <c>candidatesTokenCount + thoughtsTokenCount</c>.
    /// </summary>
    /// <param name="promptTokenCount"><c>usageMetadata.promptTokenCount</c>, cached content included.</param>
    /// <param name="candidatesTokenCount"><c>usageMetadata.candidatesTokenCount</c>, thoughts excluded.</param>
    /// <param name="thoughtsTokenCount"><c>usageMetadata.thoughtsTokenCount</c>.</param>
    /// <param name="cachedContentTokenCount"><c>usageMetadata.cachedContentTokenCount</c>.</param>
    public static Usage FromGemini(long promptTokenCount, long candidatesTokenCount, long thoughtsTokenCount = 0, long cachedContentTokenCount = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(promptTokenCount);
        ArgumentOutOfRangeException.ThrowIfNegative(candidatesTokenCount);
        ArgumentOutOfRangeException.ThrowIfNegative(thoughtsTokenCount);
        ArgumentOutOfRangeException.ThrowIfNegative(cachedContentTokenCount);
        return new(Math.Max(0, promptTokenCount - cachedContentTokenCount), candidatesTokenCount + thoughtsTokenCount, thoughtsTokenCount, cachedContentTokenCount);
    }
}
