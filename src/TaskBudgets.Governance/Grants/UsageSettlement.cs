using System.Text.Json;
using Microsoft.Extensions.Options;
using TaskBudgets.Governance.Adaptive;
using TaskBudgets.Governance.Budgeting;
using TaskBudgets.Governance.Budgeting.Calibration;
using TaskBudgets.Governance.Policies;
using TaskBudgets.Governance.Quotas;
using TaskBudgets.Governance.Storage;
using TaskBudgets.Governance.Telemetry;

namespace TaskBudgets.Governance.Grants;

/// <summary>What a call reports it used.</summary>
/// <param name="StopReason">The API's stop reason number, kept as reported.</param>
/// <param name="Truncated">The call stopped on its output cap (MAX_TOKENS).</param>
/// <param name="Outcome">The API's outcome number, kept as reported.</param>
public sealed record UsageReport(
    string GrantId,
    Usage Usage,
    int StopReason,
    bool Truncated,
    int Outcome,
    TimeSpan Latency,
    string OrgId,
    string ProjectId,
    string PrincipalId,
    string TaskType,
    string Model,
    string ReportId);

/// <summary>What a report settled on one quota.</summary>
public sealed record QuotaSettled(string QuotaId, QuotaMetric Metric, long Reserved, long Used, long WindowStartUnix);

/// <summary>The answer to a report: the first one, whenever it is asked.</summary>
public sealed record SettlementResult(
    bool Duplicate,
    bool Late,
    bool OverGrant,
    bool Truncated,
    long CostMicros,
    DateTimeOffset SettledAt,
    IReadOnlyList<QuotaSettled> Quotas);

/// <summary>
/// Settles grants exactly once: a report debits what the call used (the unused rest of the
/// reservation goes back), a release frees the reservation, and both are durable when they return.
/// </summary>
public sealed class UsageSettlement(
    PolicyCatalog catalog,
    QuotaLedger ledger,
    GrantBook book,
    GrantTokens tokens,
    ReplicaIdentity replica,
    ReportWriter writer,
    GovernanceMetrics metrics,
    TaskBudgetLedger tasks,
    CalibrationBook calibration,
    IOptions<LeaseOptions> leaseOptions,
    TimeProvider time)
{
    private readonly long maxClockSkewMs = (long)leaseOptions.Value.MaxClockSkew.TotalMilliseconds;

    /// <exception cref="GovernanceException">Unknown or forged grant, unknown org or model, or a mismatched org.</exception>
    public async Task<SettlementResult> ReportAsync(UsageReport report, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(report);
        return report.GrantId.Length > 0
            ? await ReportGrantAsync(report, cancellationToken)
            : await ReportWithoutGrantAsync(report, cancellationToken);
    }

    /// <summary>Frees a grant without usage. Returns false when it was already settled or released.</summary>
    public async Task<bool> ReleaseAsync(string grantId, CancellationToken cancellationToken)
    {
        var claims = tokens.Verify(grantId) ?? throw GovernanceException.GrantNotFound();
        var now = time.GetUtcNow();
        var ownedHere = claims.ReplicaId == replica.Id;
        var live = TouchesLease(claims, now);
        var debits = new QuotaDebit[claims.Reservations.Count];
        var leavesHold = new long[debits.Length];
        for (var i = 0; i < debits.Length; i++)
        {
            var r = claims.Reservations[i];
            var counterKey = QuotaDefinition.CounterKeyOf(r.QuotaId, r.Subject);
            var leaseId = live ? QuotaDefinition.LeaseIdOf(claims.ReplicaId, counterKey, r.WindowStartUnixS) : null;
            leavesHold[i] = LeavesHold(ownedHere, ownedHere ? ledger.Find(counterKey, r.WindowStartUnixS) : null, r, used: 0);
            debits[i] = new QuotaDebit(counterKey, r.WindowStartUnixS, leaseId, ownedHere, 0, leavesHold[i]);
        }

        var row = NewRow(claims, SettlementKind.Released, now);
        var outcome = await writer.SubmitAsync(new SettlementCommand(SettlementKind.Released, row, debits, Notice: NoticeFor(claims, ownedHere, live), CountsAfter: SettlementRules.CountsAfter(SettlementKind.Released)), cancellationToken);
        if (!outcome.Duplicate)
        {
            book.TryRelease(new Guid(claims.GrantId.Span), DateTimeOffset.FromUnixTimeMilliseconds(claims.ExpiresAtUnixMs), GrantEnding.ReleasedHere, leavesHold);
        }

        return !outcome.Duplicate;
    }

    private async Task<SettlementResult> ReportGrantAsync(UsageReport report, CancellationToken cancellationToken)
    {
        var claims = tokens.Verify(report.GrantId) ?? throw GovernanceException.GrantNotFound();
        if (report.OrgId.Length > 0 && report.OrgId != claims.OrgId)
        {
            throw new GovernanceException(RefusalKind.InvalidArgument, "ORG_MISMATCH", "org_id must be empty or the grant's org.") { Field = "org_id" };
        }

        var model = catalog.Current.Models.GetValueOrDefault(claims.Model) ?? Unpriced(claims.Model);
        var now = time.GetUtcNow();
        var usage = report.Usage;
        var settled = new QuotaSettled[claims.Reservations.Count];
        var debits = new QuotaDebit[claims.Reservations.Count];
        var used = new long[claims.Reservations.Count];
        var leavesHold = new long[used.Length];
        var ownedHere = claims.ReplicaId == replica.Id;
        var live = TouchesLease(claims, now);
        var buckets = new QuotaBucket?[used.Length];
        for (var i = 0; i < settled.Length; i++)
        {
            var r = claims.Reservations[i];
            var metric = (QuotaMetric)r.Metric;
            used[i] = MeteredAmounts.Used(metric, usage, model);
            var counterKey = QuotaDefinition.CounterKeyOf(r.QuotaId, r.Subject);
            settled[i] = new QuotaSettled(r.QuotaId, metric, r.Amount, used[i], r.WindowStartUnixS);
            var leaseId = live ? QuotaDefinition.LeaseIdOf(claims.ReplicaId, counterKey, r.WindowStartUnixS) : null;
            buckets[i] = ownedHere ? ledger.Find(counterKey, r.WindowStartUnixS) : null;
            leavesHold[i] = LeavesHold(ownedHere, buckets[i], r, used[i]);
            debits[i] = new QuotaDebit(counterKey, r.WindowStartUnixS, leaseId, ownedHere, used[i], leavesHold[i]);
        }

        var row = NewRow(claims, SettlementKind.Reported, now);
        FillUsage(row, report, model, settled);
        row.GrantedReasoningTokens = claims.ReasoningTokens;
        row.GrantedOutputTokens = claims.MaxOutputTokens;
        row.OverGrant = usage.OutputTokens > claims.MaxOutputTokens || usage.ReasoningTokens > claims.ReasoningTokens;
        row.Late = now.ToUnixTimeMilliseconds() >= claims.ExpiresAtUnixMs;

        var outcome = await writer.SubmitAsync(new SettlementCommand(SettlementKind.Reported, row, debits, claims.TaskId, NoticeFor(claims, ownedHere, live), SettlementRules.CountsAfter(SettlementKind.Reported)), cancellationToken);
        if (!outcome.Duplicate)
        {
            if (claims.TaskId.Length > 0)
            {
                tasks.Used(claims.OrgId, claims.TaskId, usage.OutputTokens);
            }

            // Debit first, then free the reservation: this replica never sees more room than there is.
            for (var i = 0; i < debits.Length; i++)
            {
                if (outcome.LeaseDebited[i])
                {
                    buckets[i]?.DebitLocally(debits[i].Amount);
                }
            }

            book.TryRelease(new Guid(claims.GrantId.Span), DateTimeOffset.FromUnixTimeMilliseconds(claims.ExpiresAtUnixMs), GrantEnding.SettledHere, leavesHold);
            var stored = outcome.Row;
            var ruleTaskType = RuleTaskType(claims.Tier, claims.TaskType);
            metrics.Settled(claims.Tier, ruleTaskType, usage, claims.MaxOutputTokens, stored.Truncated, stored.OverGrant, stored.Late);
            calibration.Record(claims.Tier, ruleTaskType, claims.OrgId, new CalibrationSample(
                usage.ReasoningTokens, usage.OutputTokens, claims.ReasoningTokens, stored.Truncated, stored.OverGrant, claims.HasComplexity ? claims.Complexity : null,
                Math.Max(1, claims.Attempt), claims.PreviousReasoningTokens)
            {
                Phase = (uint)claims.Phase <= (uint)CallPhase.Deep ? (CallPhase)claims.Phase : CallPhase.Standard,
                EstimatedInputTokens = claims.EstimatedInputTokens,
                FeatureFactor = claims.HasFeatureFactor ? claims.FeatureFactor : 1.0,
            });
        }

        return ToResult(outcome, settled);
    }

    private async Task<SettlementResult> ReportWithoutGrantAsync(UsageReport report, CancellationToken cancellationToken)
    {
        var (org, model) = catalog.Current.Resolve(report.OrgId, report.ProjectId, report.Model);

        var now = time.GetUtcNow();
        var settled = new List<QuotaSettled>();
        var debits = new List<QuotaDebit>();
        foreach (var quota in org.Quotas)
        {
            if (quota.SubjectFor(report.ProjectId, report.PrincipalId) is not { } subject)
            {
                continue;
            }

            var window = WindowCalendar.StartOf(quota.Window, now).ToUnixTimeSeconds();
            var used = MeteredAmounts.Used(quota.Metric, report.Usage, model);
            settled.Add(new QuotaSettled(quota.Id, quota.Metric, 0, used, window));
            debits.Add(new QuotaDebit(quota.CounterKey(subject), window, null, false, used));
        }

        var row = new Settlement
        {
            Id = string.Concat("r:", report.OrgId, ":", report.ReportId),
            OrgId = report.OrgId,
            Kind = (int)SettlementKind.Reported,
            ProjectId = report.ProjectId,
            PrincipalId = report.PrincipalId,
            TaskType = report.TaskType,
            Model = report.Model,
            Tier = org.Tier,
            SettledAtMs = now.ToUnixTimeMilliseconds(),
        };
        FillUsage(row, report, model, settled);
        var outcome = await writer.SubmitAsync(new SettlementCommand(SettlementKind.Reported, row, debits, CountsAfter: SettlementRules.CountsAfter(SettlementKind.Reported)), cancellationToken);
        if (!outcome.Duplicate)
        {
            var ruleTaskType = RuleTaskType(org.Tier, report.TaskType);
            metrics.Settled(org.Tier, ruleTaskType, report.Usage, 0, row.Truncated, false, false);
            calibration.Record(org.Tier, ruleTaskType, org.Id, new CalibrationSample(
                report.Usage.ReasoningTokens, report.Usage.OutputTokens, 0, row.Truncated, false, null));
        }

        return ToResult(outcome, settled);
    }

    /// <summary>
    /// Whether settling the grant now touches its issuer's lease: not within Leases:MaxClockSkew of
    /// its expiry, when the issuer may have freed the reservation already. Later, it only counts.
    /// </summary>
    private bool TouchesLease(GrantClaims claims, DateTimeOffset now) => now.ToUnixTimeMilliseconds() < claims.ExpiresAtUnixMs - maxClockSkewMs;

    /// <summary>
    /// How much of a reservation leaves its lease's declared hold as the grant ends. Elsewhere, all
    /// of it: the issuer frees the whole reservation when it hears. Here, what the call used (the
    /// rest stays in the hold to grant again), except near the limit, where all of it does, so
    /// that what others cannot take back is only what live grants reserve.
    /// </summary>
    /// <param name="bucket">The issuer's bucket, when this replica is the issuer and still has it.</param>
    private static long LeavesHold(bool ownedHere, QuotaBucket? bucket, ReservationClaim reservation, long used) =>
        !ownedHere || bucket is not { NearLimit: false } ? reservation.Amount : used;

    /// <summary>The notice that tells a grant's issuer, on its next renewal, that another replica ended it.</summary>
    private static GrantNotice? NoticeFor(GrantClaims claims, bool ownedHere, bool live) => ownedHere || !live
        ? null
        : new GrantNotice { IssuerReplicaId = claims.ReplicaId, GrantId = Convert.ToHexStringLower(claims.GrantId.Span), ExpiresAtMs = claims.ExpiresAtUnixMs };

    // Metrics label task types by the rule that governs them, so callers cannot grow the label set.
    private string RuleTaskType(string tier, string taskType) =>
        catalog.Current.Tiers.GetValueOrDefault(tier)?.RuleFor(taskType)?.TaskType ?? TierRule.DefaultTaskType;

    private static Settlement NewRow(GrantClaims claims, SettlementKind kind, DateTimeOffset now) => new()
    {
        Id = Convert.ToHexStringLower(claims.GrantId.Span),
        OrgId = claims.OrgId,
        Kind = (int)kind,
        ProjectId = claims.ProjectId,
        PrincipalId = claims.PrincipalId,
        TaskType = claims.TaskType,
        Model = claims.Model,
        Tier = claims.Tier,
        GrantedReasoningTokens = claims.ReasoningTokens,
        GrantedOutputTokens = claims.MaxOutputTokens,
        SettledAtMs = now.ToUnixTimeMilliseconds(),
    };

    private static void FillUsage(Settlement row, UsageReport report, ModelSpec model, IReadOnlyList<QuotaSettled> settled)
    {
        var usage = report.Usage;
        row.InputTokens = usage.InputTokens;
        row.CachedInputTokens = usage.CachedInputTokens;
        row.CacheWriteInputTokens = usage.CacheWriteInputTokens;
        row.OutputTokens = usage.OutputTokens;
        row.ReasoningTokens = usage.ReasoningTokens;
        row.CostMicros = usage.CostMicros(model);
        row.StopReason = report.StopReason;
        row.Truncated = report.Truncated;
        row.Outcome = report.Outcome;
        row.LatencyMs = (long)report.Latency.TotalMilliseconds;
        row.QuotasJson = JsonSerializer.Serialize(settled, SettledQuotasJson.Default.IReadOnlyListQuotaSettled);
    }

    /// <param name="settled">What this report settled: the stored row's quotas unless it is a duplicate.</param>
    private static SettlementResult ToResult(SettlementOutcome outcome, IReadOnlyList<QuotaSettled> settled)
    {
        var row = outcome.Row;

        // Only a duplicate needs the first report's quotas read back from the row.
        var quotas = outcome.Duplicate ? JsonSerializer.Deserialize(row.QuotasJson, SettledQuotasJson.Default.QuotaSettledArray) ?? [] : settled;
        return new SettlementResult(
            outcome.Duplicate,
            row.Late,
            row.OverGrant,
            row.Truncated,
            row.CostMicros,
            DateTimeOffset.FromUnixTimeMilliseconds(row.SettledAtMs),
            quotas);
    }

    // A grant outlives a policy change that removed its model: its tokens still count, at no price.
    private static ModelSpec Unpriced(string name) => new() { Name = name, Family = ModelFamily.Anthropic, Thinking = ThinkingMode.Budget };
}
