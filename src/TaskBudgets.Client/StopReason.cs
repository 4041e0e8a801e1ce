namespace TaskBudgets.Client;

/// <summary>Why the model stopped, in provider-neutral terms. <see cref="StopReasons"/> maps the providers' words onto it.</summary>
public enum StopReason
{
    /// <summary>Unknown or not given. Not treated as truncated.</summary>
    Unspecified = 0,

    /// <summary>Natural end: Anthropic end_turn, OpenAI stop, Gemini STOP.</summary>
    EndTurn = 1,

    /// <summary>The output cap was hit and the answer is truncated: Anthropic max_tokens, OpenAI length, Gemini MAX_TOKENS.</summary>
    MaxTokens = 2,

    /// <summary>A stop sequence matched: Anthropic stop_sequence.</summary>
    StopSequence = 3,

    /// <summary>The model asked for a tool: Anthropic tool_use, OpenAI tool_calls.</summary>
    ToolUse = 4,

    /// <summary>A long turn was paused to be continued: Anthropic pause_turn.</summary>
    PauseTurn = 5,

    /// <summary>The model declined to answer: Anthropic refusal.</summary>
    Refusal = 6,

    /// <summary>Input and output filled the context window: Anthropic model_context_window_exceeded.</summary>
    ModelContextWindowExceeded = 7,

    /// <summary>Blocked by a safety or content filter: OpenAI content_filter, Gemini SAFETY and its kin.</summary>
    ContentFilter = 8,
}

/// <summary>How the model call ended from the caller's side.</summary>
public enum CallOutcome
{
    /// <summary>The provider answered, whatever the stop reason.</summary>
    Success = 0,

    /// <summary>The provider returned an error; tokens may still have been billed.</summary>
    Failed = 1,

    /// <summary>The caller gave up (timeout, cancellation).</summary>
    Cancelled = 2,
}

/// <summary>
/// Maps the providers' stop-reason strings onto <see cref="StopReason"/>. Matching ignores case;
/// null, empty and unknown words map to <see cref="StopReason.Unspecified"/>.
/// </summary>
public static class StopReasons
{
    /// <summary>From Anthropic's <c>stop_reason</c>: end_turn, max_tokens, stop_sequence, tool_use, pause_turn, refusal, model_context_window_exceeded.</summary>
    public static StopReason FromAnthropic(string? stopReason) => Normalize(stopReason) switch
    {
        "end_turn" => StopReason.EndTurn,
        "max_tokens" => StopReason.MaxTokens,
        "stop_sequence" => StopReason.StopSequence,
        "tool_use" => StopReason.ToolUse,
        "pause_turn" => StopReason.PauseTurn,
        "refusal" => StopReason.Refusal,
        "model_context_window_exceeded" => StopReason.ModelContextWindowExceeded,
        _ => StopReason.Unspecified,
    };

    /// <summary>
    /// From OpenAI's <c>finish_reason</c> (stop, length, tool_calls, function_call, content_filter), or the
    /// Responses API's <c>incomplete_details.reason</c> (max_output_tokens, content_filter).
    /// </summary>
    public static StopReason FromOpenAi(string? finishReason) => Normalize(finishReason) switch
    {
        "stop" => StopReason.EndTurn,
        "length" or "max_output_tokens" => StopReason.MaxTokens,
        "tool_calls" or "function_call" => StopReason.ToolUse,
        "content_filter" => StopReason.ContentFilter,
        _ => StopReason.Unspecified,
    };

    /// <summary>
    /// From Gemini's <c>finishReason</c>: STOP, MAX_TOKENS; SAFETY, RECITATION, BLOCKLIST,
    /// PROHIBITED_CONTENT, SPII, IMAGE_SAFETY are content filters; anything else (OTHER, LANGUAGE,
    /// MALFORMED_FUNCTION_CALL, ...) is unspecified.
    /// </summary>
    public static StopReason FromGemini(string? finishReason) => Normalize(finishReason) switch
    {
        "stop" => StopReason.EndTurn,
        "max_tokens" => StopReason.MaxTokens,
        "safety" or "recitation" or "blocklist" or "prohibited_content" or "spii" or "image_safety" => StopReason.ContentFilter,
        _ => StopReason.Unspecified,
    };

    private static string Normalize(string? word) => word is null ? string.Empty : word.Trim().ToLowerInvariant();
}
