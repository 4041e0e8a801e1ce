using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.WebUtilities;
using TaskBudgets.Client;
using TaskBudgets.Gateway.Metering;

namespace TaskBudgets.Gateway.Providers;

/// <summary>
/// Gemini generateContent and streamGenerateContent (POST /v1beta/models/{model}:{action}, and /v1/).
/// The caller's key is in x-goog-api-key or the key query parameter. The grant caps
/// generationConfig.maxOutputTokens and generationConfig.thinkingConfig.thinkingBudget (a dynamic
/// budget, -1 or none, becomes the grant's; 0, thinking off, stays off).
/// </summary>
internal sealed class GeminiGenerateContent : Provider
{
    public override string Name => "gemini";

    public override string? CallerKey(HttpRequest request) =>
        request.Headers["x-goog-api-key"].FirstOrDefault() is { Length: > 0 } key ? key
        : request.Query["key"].FirstOrDefault() is { Length: > 0 } inQuery ? inQuery
        : null;

    public override string? Model(HttpRequest request, JsonObject body) =>
        request.RouteValues["model"] is string model && model.Length > 0 ? model : null;

    public override bool IsStream(HttpRequest request, JsonObject body) =>
        string.Equals(request.RouteValues["action"] as string, "streamGenerateContent", StringComparison.Ordinal);

    public override void Rewrite(JsonObject body, BudgetGrant grant, ProviderRewrite rewrite, IDictionary<string, string> addedHeaders)
    {
        if (grant.Gemini is not { } granted)
        {
            return;
        }

        var config = Caps.Object(body, "generationConfig");
        config["maxOutputTokens"] = Caps.Limit(Caps.Long(config["maxOutputTokens"]), granted.MaxOutputTokens, rewrite.AllowRaise);
        var thinkingConfig = config["thinkingConfig"] as JsonObject;
        if (thinkingConfig?.ContainsKey("thinkingLevel") == true)
        {
            // Thinking by level (Gemini 3): no budget to cap; maxOutputTokens bounds it.
            return;
        }

        var asked = Caps.Long(thinkingConfig?["thinkingBudget"]);
        if (asked == 0 && !rewrite.AllowRaise)
        {
            return;
        }

        Caps.Object(config, "thinkingConfig")["thinkingBudget"] = Caps.Limit(asked is null or < 0 ? null : asked, granted.ThinkingBudget, rewrite.AllowRaise);
    }

    public override UsageMeter NewMeter() => new Meter();

    public override void SetCredential(HttpRequestMessage upstream, string credential)
    {
        upstream.Headers.Remove("x-goog-api-key");
        upstream.Headers.TryAddWithoutValidation("x-goog-api-key", credential);
        if (upstream.RequestUri is { } uri && uri.Query.Length > 1)
        {
            var kept = QueryHelpers.ParseQuery(uri.Query).Where(p => !string.Equals(p.Key, "key", StringComparison.Ordinal));
            var query = QueryString.Create(kept.SelectMany(p => p.Value.Select(v => new KeyValuePair<string, string?>(p.Key, v))));
            upstream.RequestUri = new UriBuilder(uri) { Query = query.Value ?? string.Empty }.Uri;
        }
    }

    public override JsonObject ErrorBody(int status, GatewayErrorKind kind, string message) => new()
    {
        ["error"] = new JsonObject
        {
            ["code"] = status,
            ["message"] = message,
            ["status"] = kind switch
            {
                GatewayErrorKind.InvalidRequest => "INVALID_ARGUMENT",
                GatewayErrorKind.Unauthenticated => "UNAUTHENTICATED",
                GatewayErrorKind.PermissionDenied => "PERMISSION_DENIED",
                GatewayErrorKind.NotFound => "NOT_FOUND",
                GatewayErrorKind.BudgetDenied => "RESOURCE_EXHAUSTED",
                _ => "UNAVAILABLE",
            },
        },
    };

    /// <summary>Usage from usageMetadata (cumulative: the last one of a stream is the call's) and finishReason.</summary>
    private sealed class Meter : UsageMeter
    {
        private Usage? reported;

        public override Usage Usage => reported is { } r && (Final || r.OutputTokens >= Deltas) ? r : new Usage(reported?.InputTokens ?? 0, Deltas, cachedInputTokens: reported?.CachedInputTokens ?? 0);

        public override void Observe(JsonElement message)
        {
            if (Child(message, "candidates") is { ValueKind: JsonValueKind.Array } candidates)
            {
                foreach (var candidate in candidates.EnumerateArray())
                {
                    Deltas++;
                    if (Text(candidate, "finishReason") is { } finish)
                    {
                        StopReason = StopReasons.FromGemini(finish);
                        Final = true;
                    }
                }
            }

            if (Child(message, "usageMetadata") is { ValueKind: JsonValueKind.Object } usage)
            {
                reported = Usage.FromGemini(
                    Number(usage, "promptTokenCount"),
                    Number(usage, "candidatesTokenCount"),
                    Number(usage, "thoughtsTokenCount"),
                    Number(usage, "cachedContentTokenCount"));
            }
        }
    }
}
