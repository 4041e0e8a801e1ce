using System.Text.Json.Nodes;
using TaskBudgets.Client;
using TaskBudgets.Gateway.Metering;

namespace TaskBudgets.Gateway.Providers;

/// <summary>
/// One provider API the gateway governs: where the caller's key is, which model a call names, how
/// the grant rewrites the request, how usage is read from the answer, and how an error looks to
/// that provider's SDKs.
/// </summary>
internal abstract class Provider
{
    /// <summary>The API's name in metrics and logs: anthropic-messages, openai-chat, openai-responses, gemini.</summary>
    public abstract string Name { get; }

    /// <summary>The caller's TaskBudgets key, from the header the provider's SDKs send their key in; null when absent.</summary>
    public abstract string? CallerKey(HttpRequest request);

    /// <summary>The model the call names, or null when it names none.</summary>
    public abstract string? Model(HttpRequest request, JsonObject body);

    /// <summary>Whether the caller asked for a streamed (server-sent events) answer.</summary>
    public abstract bool IsStream(HttpRequest request, JsonObject body);

    /// <summary>Rewrites the request body (and, where needed, its headers) with the grant's parameters.</summary>
    public abstract void Rewrite(JsonObject body, BudgetGrant grant, ProviderRewrite rewrite, IDictionary<string, string> addedHeaders);

    /// <summary>A meter for one call's answer.</summary>
    public abstract UsageMeter NewMeter();

    /// <summary>Removes whatever carried the caller's key and sets the provider credential instead.</summary>
    public abstract void SetCredential(HttpRequestMessage upstream, string credential);

    /// <summary>An error body in the provider's own shape.</summary>
    public abstract JsonObject ErrorBody(int status, GatewayErrorKind kind, string message);
}

/// <summary>How a route may rewrite its calls.</summary>
/// <param name="AllowRaise">Whether the grant may raise what the caller asked for.</param>
/// <param name="IncludeStreamUsage">OpenAI Chat Completions: ask a stream for its usage chunk.</param>
internal sealed record ProviderRewrite(bool AllowRaise, bool IncludeStreamUsage);

/// <summary>Why the gateway answers a call itself, in words each provider's error shape has.</summary>
internal enum GatewayErrorKind
{
    InvalidRequest,
    Unauthenticated,
    PermissionDenied,
    NotFound,
    BudgetDenied,
    Unavailable,
}
