using System.Text.Json.Nodes;

namespace TaskBudgets.Gateway.Providers;

/// <summary>What OpenAI's APIs share: the key in "Authorization: Bearer", the model in the body, the error shape.</summary>
internal abstract class OpenAiProvider : Provider
{
    /// <summary>reasoning_effort's levels, lowest first.</summary>
    protected static readonly string[] EffortScale = ["none", "minimal", "low", "medium", "high", "xhigh"];

    /// <summary>OpenAI's effort when none is asked.</summary>
    protected const string DefaultEffort = "medium";

    public override string? CallerKey(HttpRequest request) => AnthropicMessages.BearerKey(request);

    public override string? Model(HttpRequest request, JsonObject body) => Caps.Text(body["model"]);

    public override bool IsStream(HttpRequest request, JsonObject body) => Streams(body);

    /// <summary>Whether the body asks for a stream ("stream": true).</summary>
    protected static bool Streams(JsonObject body) => body["stream"] is JsonValue v && v.TryGetValue<bool>(out var s) && s;

    public override void SetCredential(HttpRequestMessage upstream, string credential)
    {
        upstream.Headers.Remove("authorization");
        upstream.Headers.TryAddWithoutValidation("authorization", "Bearer " + credential);
    }

    public override JsonObject ErrorBody(int status, GatewayErrorKind kind, string message) => new()
    {
        ["error"] = new JsonObject
        {
            ["message"] = message,
            ["type"] = kind switch
            {
                GatewayErrorKind.InvalidRequest or GatewayErrorKind.NotFound => "invalid_request_error",
                GatewayErrorKind.Unauthenticated => "invalid_request_error",
                GatewayErrorKind.PermissionDenied => "invalid_request_error",
                GatewayErrorKind.BudgetDenied => "insufficient_quota",
                _ => "server_error",
            },
            ["param"] = null,
            ["code"] = kind switch
            {
                GatewayErrorKind.Unauthenticated => "invalid_api_key",
                GatewayErrorKind.PermissionDenied => "permission_denied",
                GatewayErrorKind.NotFound => "not_found",
                GatewayErrorKind.BudgetDenied => "budget_exhausted",
                GatewayErrorKind.InvalidRequest => "invalid_request",
                _ => "unavailable",
            },
        },
    };

    /// <summary>The effort to send: the caller's (or OpenAI's default) lowered to the grant's.</summary>
    protected static string? Effort(string? asked, string granted, bool allowRaise)
    {
        if (granted.Length == 0)
        {
            return asked;
        }

        var effective = Caps.Effort(asked ?? DefaultEffort, granted, EffortScale, allowRaise);
        return asked is null && effective == DefaultEffort ? null : effective;
    }
}
