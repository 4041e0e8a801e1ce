using System.Text.Json;
using System.Text.Json.Nodes;
using TaskBudgets.Client;
using TaskBudgets.Gateway.Metering;

namespace TaskBudgets.Gateway.Providers;

/// <summary>
/// OpenAI Chat Completions (POST /v1/chat/completions). The grant caps max_completion_tokens (or the
/// legacy max_tokens when the caller sends that) and lowers reasoning_effort; a stream is asked for
/// its final usage chunk (stream_options.include_usage) unless the route says not to.
/// </summary>
internal sealed class OpenAiChatCompletions : OpenAiProvider
{
    public override string Name => "openai-chat";

    public override void Rewrite(JsonObject body, BudgetGrant grant, ProviderRewrite rewrite, IDictionary<string, string> addedHeaders)
    {
        if (grant.OpenAi is not { } granted)
        {
            return;
        }

        var field = body.ContainsKey("max_tokens") && !body.ContainsKey("max_completion_tokens") ? "max_tokens" : "max_completion_tokens";
        body[field] = Caps.Limit(Caps.Long(body[field]), granted.MaxCompletionTokens, rewrite.AllowRaise);
        if (Effort(Caps.Text(body["reasoning_effort"]), granted.ReasoningEffort, rewrite.AllowRaise) is { } effort)
        {
            body["reasoning_effort"] = effort;
        }

        if (rewrite.IncludeStreamUsage && Streams(body))
        {
            Caps.Object(body, "stream_options")["include_usage"] = true;
        }
    }

    public override UsageMeter NewMeter() => new Meter();

    /// <summary>Usage from a completion, or from a stream's chunks: finish_reason on the last choice chunk, usage on the final chunk.</summary>
    private sealed class Meter : UsageMeter
    {
        private Usage? reported;

        public override Usage Usage => reported ?? new Usage(0, Deltas);

        public override void Observe(JsonElement message)
        {
            if (Child(message, "choices") is { ValueKind: JsonValueKind.Array } choices)
            {
                foreach (var choice in choices.EnumerateArray())
                {
                    if (Text(choice, "finish_reason") is { } finish)
                    {
                        StopReason = StopReasons.FromOpenAi(finish);
                    }

                    if (Child(choice, "delta").ValueKind == JsonValueKind.Object)
                    {
                        Deltas++;
                    }
                }
            }

            if (Child(message, "usage") is { ValueKind: JsonValueKind.Object } usage)
            {
                reported = Usage.FromOpenAi(
                    Number(usage, "prompt_tokens"),
                    Number(usage, "completion_tokens"),
                    Number(Child(usage, "prompt_tokens_details"), "cached_tokens"),
                    Number(Child(usage, "completion_tokens_details"), "reasoning_tokens"));
                Final = true;
            }
        }
    }
}
