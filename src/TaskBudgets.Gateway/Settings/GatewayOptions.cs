using TaskBudgets.Client;

namespace TaskBudgets.Gateway.Settings;

/// <summary>
/// The gateway's settings, bound from the "Gateway" configuration section and validated at start.
/// The governance service itself is reached through the SDK's "TaskBudgets" section (Address, Deadline,
/// MaxRetries, Fallback); the caller's own key is what the gateway sends it.
/// </summary>
public sealed class GatewayOptions
{
    /// <summary>The configuration section: "Gateway".</summary>
    public const string Section = "Gateway";

    /// <summary>The HTTP port the gateway listens on for callers, health and metrics. Default 8090.</summary>
    public int Port { get; set; } = 8090;

    /// <summary>The address it listens on. Default any ("*"); "127.0.0.1" for loopback only.</summary>
    public string ListenAddress { get; set; } = "*";

    /// <summary>The largest request body the gateway reads and rewrites, 1 KiB..64 MiB. Default 8 MiB.</summary>
    public int MaxRequestBodyBytes { get; set; } = 8 * 1024 * 1024;

    /// <summary>
    /// The most bytes of a plain (not server-sent events) response kept to read its usage, 64 KiB..256 MiB;
    /// the response still passes through whole, only its usage is not read past it. Default 16 MiB.
    /// </summary>
    public int MaxMeteredResponseBytes { get; set; } = 16 * 1024 * 1024;

    /// <summary>
    /// The longest an upstream call may go without a byte in either direction before it is cut,
    /// 1 s..1 h. Default 10 minutes (a model may think for minutes before its first token).
    /// </summary>
    public TimeSpan UpstreamIdleTimeout { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Defaults for every route and key; a route's and a key's own defaults win over these.</summary>
    public CallDefaults Defaults { get; set; } = new();

    /// <summary>
    /// Defaults per caller key, found by the SHA-256 (hex) of the key so that no key is in the configuration.
    /// They win over the route's defaults; the caller's x-taskbudgets-* headers win over them.
    /// </summary>
    public List<KeyDefaults> Keys { get; init; } = [];

    /// <summary>Anthropic Messages: POST /v1/messages.</summary>
    public ProviderRouteOptions Anthropic { get; set; } = new() { UpstreamBaseUrl = new Uri("https://api.anthropic.com") };

    /// <summary>OpenAI Chat Completions and Responses: POST /v1/chat/completions and /v1/responses.</summary>
    public ProviderRouteOptions OpenAi { get; set; } = new() { UpstreamBaseUrl = new Uri("https://api.openai.com") };

    /// <summary>Gemini: POST /v1beta/models/{model}:generateContent and :streamGenerateContent (and /v1/...).</summary>
    public ProviderRouteOptions Gemini { get; set; } = new() { UpstreamBaseUrl = new Uri("https://generativelanguage.googleapis.com") };
}

/// <summary>One provider's route: where its calls go, with which credential.</summary>
public sealed class ProviderRouteOptions
{
    /// <summary>Whether the route is served. Default true; a disabled route answers 404.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>The provider's base URL, without a version path (e.g. "https://api.anthropic.com"). Required.</summary>
    public Uri? UpstreamBaseUrl { get; set; }

    /// <summary>The provider credential the gateway sends upstream. Prefer <see cref="ApiKeyFile"/>; never logged.</summary>
    public string? ApiKey { get; set; }

    /// <summary>A file holding the provider credential (a mounted secret), read at start; wins over <see cref="ApiKey"/>.</summary>
    public string? ApiKeyFile { get; set; }

    /// <summary>
    /// Whether the grant may raise what the caller asked for (a larger max_tokens, a thinking budget
    /// or effort the caller did not ask for). Default false: the gateway only ever lowers.
    /// </summary>
    public bool AllowRaise { get; set; }

    /// <summary>
    /// OpenAI only: add stream_options.include_usage to streamed Chat Completions so that the stream's
    /// usage can be reported (the caller then also sees the final usage chunk). Default true.
    /// </summary>
    public bool IncludeStreamUsage { get; set; } = true;

    /// <summary>Defaults for this route's calls.</summary>
    public CallDefaults Defaults { get; set; } = new();
}

/// <summary>What a call is, when its x-taskbudgets-* headers do not say.</summary>
public sealed class CallDefaults
{
    /// <summary>The org. Required for a call from somewhere: a header, the key's, the route's or the global default.</summary>
    public string? OrgId { get; set; }

    /// <summary>The project.</summary>
    public string? ProjectId { get; set; }

    /// <summary>The principal (end user).</summary>
    public string? PrincipalId { get; set; }

    /// <summary>The task type; when no level names one, "default" (the tier's "*" rule unless it has a "default" rule).</summary>
    public string? TaskType { get; set; }

    /// <summary>The complexity hint, 0..1.</summary>
    public double? Complexity { get; set; }

    /// <summary>The phase: standard, preliminary or deep.</summary>
    public string? Phase { get; set; }

    /// <summary>A phase's name (any case), or null when it names none.</summary>
    public static Phase? ParsePhase(string text) => text.Trim().ToUpperInvariant() switch
    {
        "STANDARD" => Client.Phase.Standard,
        "PRELIMINARY" => Client.Phase.Preliminary,
        "DEEP" => Client.Phase.Deep,
        _ => null,
    };
}

/// <summary>Defaults for the calls made with one caller key.</summary>
public sealed class KeyDefaults
{
    /// <summary>SHA-256 of the caller's key, 64 hex digits (e.g. <c>printf %s "$key" | sha256sum</c>).</summary>
    public string KeySha256 { get; set; } = string.Empty;

    /// <summary>The defaults.</summary>
    public CallDefaults Defaults { get; set; } = new();
}
