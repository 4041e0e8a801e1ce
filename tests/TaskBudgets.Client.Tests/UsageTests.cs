namespace TaskBudgets.Client.Tests;

/// <summary>Provider usage blocks and stop reasons, turned into the service's terms: no provider SDK needed.</summary>
public sealed class UsageTests
{
    // (input, cached input, cache write, output, reasoning) as the service counts them.
    public static TheoryData<string, long[], long[]> Anthropic() => new()
    {
        { "plain", [1200, 800, 0, 0, 0], [1200, 0, 0, 800, 0] },
        { "thinking is part of output", [1200, 1800, 0, 0, 1400], [1200, 0, 0, 1800, 1400] },
        { "cache write and read are kept apart from input", [50, 300, 2000, 10_000, 0], [50, 10_000, 2000, 300, 0] },
        { "nothing", [0, 0, 0, 0, 0], [0, 0, 0, 0, 0] },
    };

    [Theory]
    [MemberData(nameof(Anthropic))]
    public void Anthropic_usage(string why, long[] given, long[] expected)
    {
        var usage = Usage.FromAnthropic(inputTokens: given[0], outputTokens: given[1], cacheCreationInputTokens: given[2], cacheReadInputTokens: given[3], thinkingTokens: given[4]);

        Assert.True(expected.SequenceEqual(Counts(usage)), why);
    }

    public static TheoryData<string, long[], long[]> OpenAi() => new()
    {
        { "plain", [1000, 500, 0, 0], [1000, 0, 0, 500, 0] },
        { "input is prompt minus cached", [1200, 700, 200, 400], [1000, 200, 0, 700, 400] },
        { "all cached", [1024, 10, 1024, 0], [0, 1024, 0, 10, 0] },
        { "more cached than prompt never goes negative", [100, 10, 150, 0], [0, 150, 0, 10, 0] },
    };

    [Theory]
    [MemberData(nameof(OpenAi))]
    public void OpenAi_usage(string why, long[] given, long[] expected)
    {
        var usage = Usage.FromOpenAi(promptTokens: given[0], completionTokens: given[1], cachedTokens: given[2], reasoningTokens: given[3]);

        Assert.True(expected.SequenceEqual(Counts(usage)), why);
    }

    public static TheoryData<string, long[], long[]> Gemini() => new()
    {
        { "plain", [1000, 500, 0, 0], [1000, 0, 0, 500, 0] },
        { "output is candidates plus thoughts", [1000, 500, 1500, 0], [1000, 0, 0, 2000, 1500] },
        { "input is prompt minus cached content", [5000, 300, 200, 4096], [904, 4096, 0, 500, 200] },
    };

    [Theory]
    [MemberData(nameof(Gemini))]
    public void Gemini_usage(string why, long[] given, long[] expected)
    {
        var usage = Usage.FromGemini(promptTokenCount: given[0], candidatesTokenCount: given[1], thoughtsTokenCount: given[2], cachedContentTokenCount: given[3]);

        Assert.True(expected.SequenceEqual(Counts(usage)), why);
    }

    [Fact]
    public void Impossible_counts_are_refused_before_they_reach_the_service()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new Usage(-1, 10));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Usage(10, 100, reasoningTokens: 101));
        Assert.Throws<ArgumentOutOfRangeException>(() => Usage.FromAnthropic(10, -5));
        Assert.Throws<ArgumentOutOfRangeException>(() => Usage.FromOpenAi(-1, 10));
        Assert.Throws<ArgumentOutOfRangeException>(() => Usage.FromOpenAi(10, 10, reasoningTokens: 11));
        Assert.Throws<ArgumentOutOfRangeException>(() => Usage.FromGemini(10, 10, thoughtsTokenCount: -1));
    }

    [Theory]
    [InlineData("end_turn", StopReason.EndTurn)]
    [InlineData("max_tokens", StopReason.MaxTokens)]
    [InlineData("stop_sequence", StopReason.StopSequence)]
    [InlineData("tool_use", StopReason.ToolUse)]
    [InlineData("pause_turn", StopReason.PauseTurn)]
    [InlineData("refusal", StopReason.Refusal)]
    [InlineData("model_context_window_exceeded", StopReason.ModelContextWindowExceeded)]
    [InlineData("END_TURN", StopReason.EndTurn)]
    [InlineData("something_new", StopReason.Unspecified)]
    [InlineData("", StopReason.Unspecified)]
    [InlineData(null, StopReason.Unspecified)]
    public void Anthropic_stop_reasons(string? word, StopReason expected) => Assert.Equal(expected, StopReasons.FromAnthropic(word));

    [Theory]
    [InlineData("stop", StopReason.EndTurn)]
    [InlineData("length", StopReason.MaxTokens)]
    [InlineData("max_output_tokens", StopReason.MaxTokens)]
    [InlineData("tool_calls", StopReason.ToolUse)]
    [InlineData("function_call", StopReason.ToolUse)]
    [InlineData("content_filter", StopReason.ContentFilter)]
    [InlineData("end_turn", StopReason.Unspecified)]
    [InlineData(null, StopReason.Unspecified)]
    public void OpenAi_finish_reasons(string? word, StopReason expected) => Assert.Equal(expected, StopReasons.FromOpenAi(word));

    [Theory]
    [InlineData("STOP", StopReason.EndTurn)]
    [InlineData("MAX_TOKENS", StopReason.MaxTokens)]
    [InlineData("SAFETY", StopReason.ContentFilter)]
    [InlineData("RECITATION", StopReason.ContentFilter)]
    [InlineData("BLOCKLIST", StopReason.ContentFilter)]
    [InlineData("PROHIBITED_CONTENT", StopReason.ContentFilter)]
    [InlineData("SPII", StopReason.ContentFilter)]
    [InlineData("IMAGE_SAFETY", StopReason.ContentFilter)]
    [InlineData("LANGUAGE", StopReason.Unspecified)]
    [InlineData("OTHER", StopReason.Unspecified)]
    [InlineData("MALFORMED_FUNCTION_CALL", StopReason.Unspecified)]
    [InlineData("FINISH_REASON_UNSPECIFIED", StopReason.Unspecified)]
    [InlineData("stop", StopReason.EndTurn)]
    [InlineData(null, StopReason.Unspecified)]
    public void Gemini_finish_reasons(string? word, StopReason expected) => Assert.Equal(expected, StopReasons.FromGemini(word));

    private static long[] Counts(Usage u) => [u.InputTokens, u.CachedInputTokens, u.CacheWriteInputTokens, u.OutputTokens, u.ReasoningTokens];
}
