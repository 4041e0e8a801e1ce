namespace TaskBudgets.Client;

/// <summary>
/// The answer to <see cref="IBudgetClient.AcquireAsync"/>: the budget of one model call, why it is
/// what it is, and its provider parameters. Settle it once with <see cref="ReportAsync"/>; disposing
/// a grant that was not reported releases its reservation.
/// </summary>
public sealed class BudgetGrant : IAsyncDisposable
{
    private readonly object gate = new();
    private readonly IGrantSettlement settlement;
    private Task<UsageReceipt>? report;
    private bool disposed;

    internal BudgetGrant(IGrantSettlement settlement, GrantSubject subject)
    {
        this.settlement = settlement;
        Subject = subject;
    }

    /// <summary>
    /// The signed grant token that settles or releases this grant on any replica; null for a
    /// fallback grant (nothing was reserved). Opaque: do not parse it.
    /// </summary>
    public string? GrantId { get; internal init; }

    /// <summary>The idempotency key this grant was asked with (given or generated); a fallback grant's report uses it as its report id.</summary>
    public string RequestId => Subject.RequestId;

    /// <summary>Granted in full, reduced, or <see cref="BudgetDecision.Fallback"/>.</summary>
    public required BudgetDecision Decision { get; init; }

    /// <summary>The provider-neutral budget of the call.</summary>
    public required Budget Budget { get; init; }

    /// <summary>Every step that shaped the budget, in order.</summary>
    public IReadOnlyList<BudgetReason> Reasons { get; init; } = [];

    /// <summary>
    /// Ready-to-use parameters for the model's family: <see cref="AnthropicParameters"/>,
    /// <see cref="OpenAiParameters"/> or <see cref="GeminiParameters"/>. Null only for a fallback
    /// grant whose model family the SDK cannot tell (see <see cref="TaskBudgetsFallbackOptions.ModelFamilies"/>).
    /// </summary>
    public ProviderParameters? ProviderParameters { get; init; }

    /// <summary>The Anthropic parameters, or null when the model is not Anthropic's.</summary>
    public AnthropicParameters? Anthropic => ProviderParameters as AnthropicParameters;

    /// <summary>The OpenAI parameters, or null when the model is not OpenAI's.</summary>
    public OpenAiParameters? OpenAi => ProviderParameters as OpenAiParameters;

    /// <summary>The Gemini parameters, or null when the model is not Gemini's.</summary>
    public GeminiParameters? Gemini => ProviderParameters as GeminiParameters;

    /// <summary>When the reservation lapses if neither reported nor released; null for a fallback grant.</summary>
    public DateTimeOffset? ExpiresAt { get; init; }

    /// <summary>The policy version that decided the grant; 0 for a fallback grant.</summary>
    public long PolicyVersion { get; init; }

    /// <summary>The org's tier; empty for a fallback grant.</summary>
    public string Tier { get; init; } = string.Empty;

    /// <summary>The task type of the rule that decided ("*" for the tier's default rule); empty for a fallback grant.</summary>
    public string RuleTaskType { get; init; } = string.Empty;

    /// <summary>Every quota that applied, with what remains; empty for a fallback grant.</summary>
    public IReadOnlyList<QuotaSnapshot> Quotas { get; init; } = [];

    /// <summary>True when the service replayed an earlier grant for the same request id: nothing new was reserved.</summary>
    public bool Replayed { get; init; }

    /// <summary>
    /// True when the service was unreachable and the fail-open fallback made this grant: its budget is
    /// the fixed one of <see cref="TaskBudgetsFallbackOptions"/>, nothing is reserved, and its report
    /// goes to the service as a report without a grant (so the usage is still accounted).
    /// </summary>
    public bool IsFallback => Decision == BudgetDecision.Fallback;

    /// <summary>For a fallback grant: why the service was unreachable. Null otherwise.</summary>
    public BudgetServiceException? FallbackCause { get; init; }

    /// <summary>The receipt of the successful report, or null while the grant is unreported.</summary>
    public UsageReceipt? Receipt => report is { IsCompletedSuccessfully: true } done ? done.Result : null;

    internal GrantSubject Subject { get; }

    /// <summary>
    /// Reports what the call used and settles the grant, exactly once: the SDK retries UNAVAILABLE and
    /// DEADLINE_EXCEEDED with the same grant id (the service counts a retried report once), and a
    /// second call returns the first call's receipt without calling the service again (whatever usage
    /// it is given). After a failed report, calling again tries again.
    /// </summary>
    /// <param name="usage">What the call used; see <see cref="Usage.FromAnthropic"/>, <see cref="Usage.FromOpenAi"/>, <see cref="Usage.FromGemini"/>.</param>
    /// <param name="stopReason">Why the model stopped; see <see cref="StopReasons"/>. <see cref="StopReason.MaxTokens"/> marks the call truncated.</param>
    /// <param name="outcome">How the call ended from the caller's side.</param>
    /// <param name="latency">Wall time of the model call, 0..1 hour; null: not recorded.</param>
    /// <param name="cancellationToken">Cancels the report (and any retry wait).</param>
    /// <exception cref="BudgetServiceException">The service refused the report, or (for a grant that is not a fallback) stayed unreachable.</exception>
    /// <exception cref="ObjectDisposedException">The grant was disposed before it was reported.</exception>
    public Task<UsageReceipt> ReportAsync(
        Usage usage,
        StopReason stopReason = StopReason.Unspecified,
        CallOutcome outcome = CallOutcome.Success,
        TimeSpan? latency = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(usage);
        lock (gate)
        {
            if (report is { IsFaulted: false, IsCanceled: false })
            {
                return report;
            }

            ObjectDisposedException.ThrowIf(disposed, this);
            report = settlement.ReportAsync(this, usage, stopReason, outcome, latency, cancellationToken);
            return report;
        }
    }

    /// <summary>
    /// Releases the reservation of a grant that was not reported (best effort: one attempt; a grant
    /// that could not be released expires after the service's grant TTL). Never throws. Waits for a
    /// report in progress first; a reported or fallback grant has nothing to release.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        Task<UsageReceipt>? pending;
        lock (gate)
        {
            if (disposed)
            {
                return;
            }

            disposed = true;
            pending = report;
        }

        if (pending is not null)
        {
            try
            {
                await pending.ConfigureAwait(false);
                return;
            }
#pragma warning disable CA1031 // DisposeAsync never throws: a failed report leaves the grant to be released below.
            catch (Exception)
#pragma warning restore CA1031
            {
            }
        }

        if (GrantId is { } grantId && !IsFallback)
        {
            await settlement.ReleaseQuietlyAsync(grantId).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public override string ToString() =>
        $"{Decision} {Budget.ReasoningTokens} reasoning / {Budget.MaxOutputTokens} output tokens, effort {Budget.Effort}";
}

/// <summary>Who asked, for what: what a fallback grant's report without a grant needs.</summary>
internal sealed record GrantSubject(string OrgId, string? ProjectId, string? PrincipalId, string TaskType, string Model, string RequestId);

/// <summary>What settles a grant: the client that made it.</summary>
internal interface IGrantSettlement
{
    Task<UsageReceipt> ReportAsync(BudgetGrant grant, Usage usage, StopReason stopReason, CallOutcome outcome, TimeSpan? latency, CancellationToken cancellationToken);

    Task ReleaseQuietlyAsync(string grantId);
}
