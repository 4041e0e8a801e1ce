using System.Text.Json;
using System.Text.Json.Nodes;
using TaskBudgets.Client;
using TaskBudgets.Gateway.Metering;

namespace TaskBudgets.Gateway.Providers;

/// <summary>
/// Anthropic Messages (POST /v1/messages). The caller's key is in x-api-key. The grant caps
/// max_tokens and thinking.budget_tokens, lowers output_config.effort, and gives a task's calls
/// their task budget (output_config.task_budget, with its beta header).
/// </summary>
internal sealed class AnthropicMessages : Provider
{
    /// <summary>The beta that output_config.task_budget needs.</summary>
    public const string TaskBudgetBeta = "task-budgets-2026-03-13";

    // Anthropic's smallest thinking budget; below it thinking is turned off rather than refused.
    private const long MinThinkingBudget = 1024;
    private static readonly string[] EffortScale = ["low", "medium", "high", "xhigh", "max"];

    public override string Name => "anthropic-messages";

    public override string? CallerKey(HttpRequest request) =>
        request.Headers["x-api-key"].FirstOrDefault() is { Length: > 0 } key ? key : BearerKey(request);

    public override string? Model(HttpRequest request, JsonObject body) => Caps.Text(body["model"]);

    public override bool IsStream(HttpRequest request, JsonObject body) => body["stream"] is JsonValue v && v.TryGetValue<bool>(out var s) && s;

    public override void Rewrite(JsonObject body, BudgetGrant grant, ProviderRewrite rewrite, IDictionary<string, string> addedHeaders)
    {
        if (grant.Anthropic is not { } granted)
        {
            return;
        }

        var maxTokens = Caps.Limit(Caps.Long(body["max_tokens"]), granted.MaxTokens, rewrite.AllowRaise);
        body["max_tokens"] = maxTokens;
        RewriteThinking(body, granted, maxTokens, rewrite.AllowRaise);

        var outputConfig = body["output_config"] as JsonObject;
        if (Caps.Text(outputConfig?["effort"]) is { } askedEffort)
        {
            outputConfig!["effort"] = Caps.Effort(askedEffort, granted.Effort, EffortScale, rewrite.AllowRaise);
        }
        else if (granted.ThinkingBudgetTokens == 0 && granted.Effort.Length > 0 && (rewrite.AllowRaise || Caps.Effort("high", granted.Effort, EffortScale, false) != "high"))
        {
            // A model that thinks by effort: no effort asked means high (Anthropic's default), so a lower grant is sent.
            Caps.Object(body, "output_config")["effort"] = granted.Effort;
        }

        if (granted.TaskBudgetTotal > 0)
        {
            var taskBudget = Caps.Object(Caps.Object(body, "output_config"), "task_budget");
            var remaining = Caps.Limit(Caps.Long(taskBudget["remaining"]), granted.TaskBudgetRemaining, rewrite.AllowRaise);
            taskBudget["type"] = "tokens";
            taskBudget["total"] = Caps.Limit(Caps.Long(taskBudget["total"]), granted.TaskBudgetTotal, rewrite.AllowRaise);
            taskBudget["remaining"] = remaining;
            addedHeaders["anthropic-beta"] = TaskBudgetBeta;
        }
    }

    public override UsageMeter NewMeter() => new Meter();

    public override void SetCredential(HttpRequestMessage upstream, string credential)
    {
        upstream.Headers.Remove("x-api-key");
        upstream.Headers.Remove("authorization");
        upstream.Headers.TryAddWithoutValidation("x-api-key", credential);
    }

    public override JsonObject ErrorBody(int status, GatewayErrorKind kind, string message) => new()
    {
        ["type"] = "error",
        ["error"] = new JsonObject
        {
            ["type"] = kind switch
            {
                GatewayErrorKind.InvalidRequest => "invalid_request_error",
                GatewayErrorKind.Unauthenticated => "authentication_error",
                GatewayErrorKind.PermissionDenied => "permission_error",
                GatewayErrorKind.NotFound => "not_found_error",
                GatewayErrorKind.BudgetDenied => "rate_limit_error",
                _ => "api_error",
            },
            ["message"] = message,
        },
    };

    internal static string? BearerKey(HttpRequest request) =>
        request.Headers.Authorization.FirstOrDefault() is { } value && value.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) && value.Length > 7
            ? value[7..].Trim()
            : null;

    private static void RewriteThinking(JsonObject body, AnthropicParameters granted, long maxTokens, bool allowRaise)
    {
        var thinking = body["thinking"] as JsonObject;
        var enabled = Caps.Text(thinking?["type"]) == "enabled";
        if (!enabled)
        {
            if (allowRaise && granted.ThinkingBudgetTokens >= MinThinkingBudget && thinking is null)
            {
                body["thinking"] = new JsonObject { ["type"] = "enabled", ["budget_tokens"] = Math.Min(granted.ThinkingBudgetTokens, maxTokens - 1) };
            }

            return;
        }

        if (granted.ThinkingBudgetTokens == 0)
        {
            // A model that thinks by effort, not by budget: the caller's budget stays, under max_tokens.
            if (Caps.Long(thinking!["budget_tokens"]) is { } asked && asked >= maxTokens)
            {
                thinking["budget_tokens"] = maxTokens - 1;
            }

            return;
        }

        var budget = Math.Min(Caps.Limit(Caps.Long(thinking!["budget_tokens"]), granted.ThinkingBudgetTokens, allowRaise), maxTokens - 1);
        if (budget < MinThinkingBudget)
        {
            body["thinking"] = new JsonObject { ["type"] = "disabled" };
        }
        else
        {
            thinking["budget_tokens"] = budget;
        }
    }

    /// <summary>
    /// Usage from a message (plain), or from message_start (input, cache) and message_delta (output,
    /// stop reason; cumulative) events of a stream.
    /// </summary>
    private sealed class Meter : UsageMeter
    {
        private long input;
        private long cacheWrite;
        private long cacheRead;
        private long output;
        private long thinking;

        public override Usage Usage => Usage.FromAnthropic(input, Final ? output : Math.Max(output, Deltas), cacheWrite, cacheRead, thinking);

        public override void Observe(JsonElement message)
        {
            switch (Text(message, "type"))
            {
                case "message":
                    Take(Child(message, "usage"));
                    Stop(Text(message, "stop_reason"));
                    Final = true;
                    break;
                case "message_start":
                    Take(Child(Child(message, "message"), "usage"));
                    break;
                case "message_delta":
                    Take(Child(message, "usage"));
                    Stop(Text(Child(message, "delta"), "stop_reason"));
                    Final = true;
                    break;
                case "content_block_delta":
                    Deltas++;
                    break;
                default:
                    break;
            }
        }

        private void Stop(string? reason)
        {
            if (reason is not null)
            {
                StopReason = StopReasons.FromAnthropic(reason);
            }
        }

        private void Take(JsonElement usage)
        {
            if (usage.ValueKind != JsonValueKind.Object)
            {
                return;
            }

            // message_delta's counts are cumulative: each present one replaces what came before.
            input = Has(usage, "input_tokens") ? Number(usage, "input_tokens") : input;
            cacheWrite = Has(usage, "cache_creation_input_tokens") ? Number(usage, "cache_creation_input_tokens") : cacheWrite;
            cacheRead = Has(usage, "cache_read_input_tokens") ? Number(usage, "cache_read_input_tokens") : cacheRead;
            output = Has(usage, "output_tokens") ? Number(usage, "output_tokens") : output;
            var details = Child(usage, "output_tokens_details");
            thinking = Has(details, "thinking_tokens") ? Number(details, "thinking_tokens") : thinking;
        }

        private static bool Has(JsonElement element, string name) =>
            element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number;
    }
}
