using System.Text.Json;
using System.Text.Json.Nodes;
using TaskBudgets.Client;
using TaskBudgets.Gateway.Metering;

namespace TaskBudgets.Gateway.Providers;

/// <summary>
/// OpenAI Responses (POST /v1/responses). The grant caps max_output_tokens and lowers
/// reasoning.effort; usage comes from the response, or from a stream's response.completed
/// (or response.incomplete) event.
/// </summary>
internal sealed class OpenAiResponses : OpenAiProvider
{
    public override string Name => "openai-responses";

    public override void Rewrite(JsonObject body, BudgetGrant grant, ProviderRewrite rewrite, IDictionary<string, string> addedHeaders)
    {
        if (grant.OpenAi is not { } granted)
        {
            return;
        }

        body["max_output_tokens"] = Caps.Limit(Caps.Long(body["max_output_tokens"]), granted.MaxCompletionTokens, rewrite.AllowRaise);
        var reasoning = body["reasoning"] as JsonObject;
        if (Effort(Caps.Text(reasoning?["effort"]), granted.ReasoningEffort, rewrite.AllowRaise) is { } effort)
        {
            Caps.Object(body, "reasoning")["effort"] = effort;
        }
    }

    public override UsageMeter NewMeter() => new Meter();

    private sealed class Meter : UsageMeter
    {
        private Usage? reported;

        public override Usage Usage => reported ?? new Usage(0, Deltas);

        public override void Observe(JsonElement message)
        {
            switch (Text(message, "type"))
            {
                case "response.output_text.delta" or "response.reasoning_summary_text.delta" or "response.function_call_arguments.delta":
                    Deltas++;
                    break;
                case "response.completed" or "response.incomplete" or "response.failed":
                    TakeResponse(Child(message, "response"));
                    break;
                default:
                    if (Text(message, "object") == "response")
                    {
                        TakeResponse(message);
                    }

                    break;
            }
        }

        private void TakeResponse(JsonElement response)
        {
            var status = Text(response, "status");
            var incomplete = Text(Child(response, "incomplete_details"), "reason");
            StopReason = (status, incomplete) switch
            {
                ("incomplete", "max_output_tokens") => StopReason.MaxTokens,
                ("incomplete", "content_filter") => StopReason.ContentFilter,
                ("completed", _) => StopReason.EndTurn,
                _ => StopReason,
            };
            if (Child(response, "usage") is { ValueKind: JsonValueKind.Object } usage)
            {
                reported = Usage.FromOpenAi(
                    Number(usage, "input_tokens"),
                    Number(usage, "output_tokens"),
                    Number(Child(usage, "input_tokens_details"), "cached_tokens"),
                    Number(Child(usage, "output_tokens_details"), "reasoning_tokens"));
                Final = true;
            }
        }
    }
}
