namespace TaskBudgets.Client;

/// <summary>
/// How the SDK reaches TaskBudgets Governance. Bound from the "TaskBudgets" configuration section by
/// <c>services.AddTaskBudgetsClient(configuration)</c>
/// and validated when the host starts.
/// </summary>
public sealed class TaskBudgetsClientOptions
{
    /// <summary>The configuration section the options are bound from: "TaskBudgets".</summary>
    public const string Section = "TaskBudgets";

    /// <summary>
    /// Required. The service's gRPC address, e.g. "http://taskbudgets:8080" (plaintext HTTP/2, the
    /// server's Server:GrpcPort) or an https address behind TLS.
    /// </summary>
    public Uri? Address { get; set; }

    /// <summary>
    /// The caller's API key, sent as "authorization: Bearer &lt;key&gt;" on every call when set.
    /// Default: none (for servers that do not require keys). Over plaintext http it travels unencrypted.
    /// </summary>
    public string? ApiKey { get; set; }

    /// <summary>
    /// The org used when a <see cref="BudgetRequest"/> names none (a key is bound to one org, so a
    /// service usually has exactly one). Default: none; each request must then name its org.
    /// </summary>
    public string? OrgId { get; set; }

    /// <summary>Deadline of each attempt of each call, 1 ms..5 min. Default 2 seconds.</summary>
    public TimeSpan Deadline { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// How many times a call that failed with UNAVAILABLE or DEADLINE_EXCEEDED is retried (with the
    /// same request id or grant id, so a retry is never counted twice), 0..10. Default 2 (3 attempts).
    /// </summary>
    public int MaxRetries { get; set; } = 2;

    /// <summary>Wait before the first retry; each later one waits twice as long, up to <see cref="MaxBackoff"/>, with jitter. Default 100 ms.</summary>
    public TimeSpan InitialBackoff { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>The longest wait between retries, at least <see cref="InitialBackoff"/>. Default 1 second.</summary>
    public TimeSpan MaxBackoff { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>What <see cref="IBudgetClient.AcquireAsync"/> does when the service stays unreachable. Default fail-closed.</summary>
    public TaskBudgetsFallbackOptions Fallback { get; set; } = new();
}

/// <summary>What to do when the service cannot be reached (UNAVAILABLE or DEADLINE_EXCEEDED after every retry).</summary>
public enum FallbackMode
{
    /// <summary>Throw a <see cref="BudgetServiceException"/>: no budget, no model call. The default.</summary>
    FailClosed = 0,

    /// <summary>Return a fallback grant with the fixed small budget of <see cref="TaskBudgetsFallbackOptions"/>, marked as such.</summary>
    FailOpen = 1,
}

/// <summary>
/// The fallback when the service is unreachable. Only unreachability falls back: a denial
/// (RESOURCE_EXHAUSTED) or any other error is always thrown.
/// </summary>
public sealed class TaskBudgetsFallbackOptions
{
    /// <summary>Fail closed (throw) or open (a fixed budget). Default <see cref="FallbackMode.FailClosed"/>.</summary>
    public FallbackMode Mode { get; set; } = FallbackMode.FailClosed;

    /// <summary>Thinking budget of a fallback grant, 0..<see cref="MaxOutputTokens"/>. Default 1024 (Anthropic's minimum for manual thinking).</summary>
    public long ReasoningTokens { get; set; } = 1024;

    /// <summary>Output cap of a fallback grant, reasoning included, 1..1,000,000. Default 2048.</summary>
    public long MaxOutputTokens { get; set; } = 2048;

    /// <summary>Effort of a fallback grant. Default <see cref="Client.Effort.Low"/>.</summary>
    public Effort Effort { get; set; } = Effort.Low;

    /// <summary>
    /// The provider family of models whose name does not tell it, for a fallback grant's provider
    /// parameters (the service's policy is out of reach). Names starting with "claude" are Anthropic,
    /// "gpt", "o1", "o3", "o4", "chatgpt" OpenAI, and "gemini" Gemini without an entry here.
    /// Default: empty.
    /// </summary>
    public Dictionary<string, ModelFamily> ModelFamilies { get; init; } = new(StringComparer.OrdinalIgnoreCase);
}
