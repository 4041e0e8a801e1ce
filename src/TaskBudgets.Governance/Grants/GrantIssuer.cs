using Google.Protobuf;
using Microsoft.Extensions.Options;
using TaskBudgets.Governance.Adaptive;
using TaskBudgets.Governance.Budgeting;
using TaskBudgets.Governance.Budgeting.Calibration;
using TaskBudgets.Governance.Policies;
using TaskBudgets.Governance.Quotas;
using TaskBudgets.Governance.Telemetry;
using TaskBudgets.Governance.UsageHistory;

namespace TaskBudgets.Governance.Grants;

/// <summary>
/// Answers "what budget may this call use?": decides the budget (Budgeting) and reserves it
/// on every applicable quota (the ledger), all or nothing, then signs the grant.
/// </summary>
public sealed class GrantIssuer(
    PolicyCatalog catalog,
    QuotaLedger ledger,
    GrantBook book,
    AnsweredRequests answered,
    GrantTokens tokens,
    ReplicaIdentity replica,
    GovernanceMetrics metrics,
    UsageCounters usage,
    TaskBudgetLedger tasks,
    CalibrationBook calibration,
    IOptions<GrantOptions> options,
    IOptions<CalibrationOptions> calibrationOptions,
    TimeProvider time)
{
    private const int DecideAttempts = 4;
    private readonly TimeSpan ttl = options.Value.Ttl;
    private readonly double explorationShare = calibrationOptions.Value.ExplorationShare;
    private readonly double explorationFactor = calibrationOptions.Value.ExplorationFactor;

    /// <summary>Issues a grant, or replays the one already issued for the same request id.</summary>
    /// <returns>The grant, and whether it replays an earlier answer.</returns>
    /// <exception cref="GovernanceException">Unknown org or model, no rule, or a quota denial.</exception>
    public async ValueTask<(IssuedGrant Grant, bool Replayed)> IssueAsync(GrantRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.RequestId.Length == 0)
        {
            return (await IssueNewAsync(request, cancellationToken), false);
        }

        var issuedNow = false;
        var pending = answered.GetOrIssue(request.OrgId, request.RequestId, () =>
        {
            issuedNow = true;

            // Not the first caller's token: a retry must find the grant even if that caller gave up.
            return IssueNewAsync(request, CancellationToken.None).AsTask();
        });
        try
        {
            var grant = await pending.WaitAsync(cancellationToken);
            return (grant, !issuedNow);
        }
        catch
        {
            // A refusal or a storage failure is not an answer to replay: a retry decides again.
            answered.Forget(request.OrgId, request.RequestId);
            throw;
        }
    }

    /// <summary>
    /// What <see cref="IssueAsync"/> would answer now, on the same headroom and by the same
    /// decision, with nothing reserved, no loop started, no grant issued and nothing counted.
    /// </summary>
    /// <returns>The grant it would issue (with no token), or the refusal it would give.</returns>
    /// <exception cref="GovernanceException">Unknown org or model, or no rule.</exception>
    public async Task<GrantPreview> PreviewAsync(GrantRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var a = await AssessAsync(request, startsLoop: false, cancellationToken);
        var headrooms = Headrooms(a.Buckets);
        var decision = BudgetDecision.Decide(a.Rule, request.Features, a.Model, headrooms, a.TaskLeft, a.Calibrated, a.Exploration);
        if (decision.Denied)
        {
            return new GrantPreview(null, Denial(a.Buckets, headrooms, decision.LimitingQuota));
        }

        var amounts = Amounts(a.Buckets, decision, request.Features, a.Model);
        var provider = ProviderParameters.For(a.Model, decision, a.TaskTotal);
        var grant = new IssuedGrant(string.Empty, a.Now, decision, provider, a.Org.Tier, a.Rule, a.PolicyVersion, Reservations(a.Buckets, headrooms, amounts));
        return new GrantPreview(grant, null);
    }

    // ValueTasks down this path: a grant served from a lease completes synchronously, and then
    // allocates no task at each level.
    private async ValueTask<IssuedGrant> IssueNewAsync(GrantRequest request, CancellationToken cancellationToken)
    {
        var a = await AssessAsync(request, startsLoop: true, cancellationToken);
        var buckets = a.Buckets;
        var headrooms = new QuotaHeadroom[buckets.Length];
        var rechecked = false;
        for (var attempt = 0; attempt < DecideAttempts; attempt++)
        {
            Headrooms(buckets, headrooms);
            var decision = BudgetDecision.Decide(a.Rule, request.Features, a.Model, headrooms, a.TaskLeft, a.Calibrated, a.Exploration);
            if (decision.Denied)
            {
                // Expired grants may not have been swept yet, and other replicas' leases may hold
                // capacity they may not grant from: free and take back what there is, and look again once.
                if (attempt == 0 && book.SweepExpired(time.GetUtcNow()) > 0)
                {
                    continue;
                }

                // A look that began before this denial may have missed what freed room since: only
                // one of this call's own counts.
                if (!rechecked && decision.LimitingQuota >= 0)
                {
                    rechecked = await ledger.RecheckBeforeDenialAsync(buckets[decision.LimitingQuota], book, cancellationToken);
                    continue;
                }

                throw Denied(request, a, headrooms, decision.LimitingQuota);
            }

            var amounts = Amounts(buckets, decision, request.Features, a.Model);
            if (await ledger.TryReserveAsync(buckets, amounts, cancellationToken))
            {
                return Grant(request, a, decision, headrooms, amounts);
            }

            // The database had less than this replica thought: expired grants and grants settled
            // elsewhere may free some, and the refusal refreshed the headroom, so decide again.
            book.SweepExpired(time.GetUtcNow());
            await ledger.FreeSettledElsewhereAsync(book, cancellationToken);
        }

        Headrooms(buckets, headrooms);
        throw Denied(request, a, headrooms, -1);
    }

    /// <summary>
    /// Everything the decision depends on besides the headroom: the org, model and rule, the
    /// applicable quotas' buckets (synced), what an agentic loop has left, and the calibration.
    /// </summary>
    /// <param name="startsLoop">Whether a loop this request names and nobody has started yet is started now.</param>
    private async ValueTask<Assessment> AssessAsync(GrantRequest request, bool startsLoop, CancellationToken cancellationToken)
    {
        var policy = catalog.Current;
        var (org, model) = policy.Resolve(request.OrgId, request.ProjectId, request.Model);

        var rule = policy.Tiers.GetValueOrDefault(org.Tier)?.RuleFor(request.TaskType)
            ?? throw new GovernanceException(RefusalKind.FailedPrecondition, "NO_RULE", $"Tier '{org.Tier}' has no rule for task type '{request.TaskType}' and no '*' rule.");

        var now = time.GetUtcNow();
        var buckets = Buckets(org, request, now);
        foreach (var bucket in buckets)
        {
            await ledger.EnsureSyncedAsync(bucket, now, cancellationToken);
        }

        long? taskLeft = null;
        var taskTotal = rule.TaskBudgetTokens;
        if (request.TaskId.Length > 0 && rule.TaskBudgetTokens > 0)
        {
            (taskTotal, var left) = startsLoop
                ? await tasks.RemainingAsync(request.OrgId, request.TaskId, rule.TaskBudgetTokens, cancellationToken)
                : await tasks.PeekAsync(request.OrgId, request.TaskId, rule.TaskBudgetTokens, cancellationToken);
            taskLeft = left;
        }

        var calibrated = rule.Adaptive ? calibration.Current.Recommend(org.Tier, rule.TaskType, rule, org.Id) : default;
        return new Assessment(policy.Version, org, model, rule, buckets, taskLeft, taskTotal, calibrated, Explore(request), now);
    }

    /// <summary>
    /// Whether this call explores above its calibrated budget. A call with a request id draws from
    /// it, so a preview and the grant it previews agree; one without draws at random.
    /// </summary>
    private Exploration Explore(GrantRequest request)
    {
        if (explorationShare <= 0)
        {
            return default;
        }

        var draw = request.RequestId.Length > 0
            ? (uint)HashCode.Combine(request.OrgId, request.RequestId) / 4_294_967_296.0
            : Random.Shared.NextDouble();
        return new Exploration(explorationShare, explorationFactor, draw);
    }

    private IssuedGrant Grant(GrantRequest request, Assessment a, BudgetDecision decision, QuotaHeadroom[] headrooms, long[] amounts)
    {
        var (now, tier, model, buckets) = (a.Now, a.Org.Tier, a.Model, a.Buckets);
        var id = GrantIds.Next(now);
        var expiresAt = now + ttl;
        var claims = ReusedClaims.ForThisThread();
        claims.GrantId = UnsafeByteOperations.UnsafeWrap(id);
        claims.OrgId = request.OrgId;
        claims.ProjectId = request.ProjectId;
        claims.PrincipalId = request.PrincipalId;
        claims.TaskType = request.TaskType;
        claims.Model = request.Model;
        claims.Tier = tier;
        claims.TaskId = request.TaskId;
        claims.IssuedAtUnixMs = now.ToUnixTimeMilliseconds();
        claims.ExpiresAtUnixMs = expiresAt.ToUnixTimeMilliseconds();
        claims.ReplicaId = replica.Id;
        claims.ReasoningTokens = decision.ReasoningTokens;
        claims.MaxOutputTokens = decision.MaxOutputTokens;
        claims.EstimatedInputTokens = request.Features.EstimatedInputTokens;
        claims.PolicyVersion = a.PolicyVersion;
        claims.Attempt = request.Features.Attempt;
        claims.PreviousReasoningTokens = decision.PreviousReasoningTokens;
        claims.Phase = (int)request.Features.Phase;
        claims.FeatureFactor = decision.FeatureFactor;
        if (request.Features.Complexity is { } complexity)
        {
            claims.Complexity = complexity;
        }
        else
        {
            claims.ClearComplexity();
        }

        var reservations = ReusedClaims.Reservations(claims, buckets.Length);
        for (var i = 0; i < buckets.Length; i++)
        {
            var bucket = buckets[i];
            var reservation = reservations[i];
            reservation.QuotaId = bucket.Quota.Id;
            reservation.Subject = bucket.Subject;
            reservation.WindowStartUnixS = bucket.WindowStartUnix;
            reservation.Metric = (int)bucket.Quota.Metric;
            reservation.Amount = amounts[i];
        }

        var token = tokens.Sign(claims);
        book.Add(new Guid(id), expiresAt, buckets, amounts);
        metrics.Granted(decision, tier, a.Rule.TaskType, model.Family);
        var input = request.Features.EstimatedInputTokens;
        usage.Granted(request.OrgId, request.ProjectId, request.PrincipalId, tier, request.TaskType, decision.Kind == DecisionKind.Reduced, decision.ReasoningTokens, decision.MaxOutputTokens, input, model.CostMicros(input, 0, 0, decision.MaxOutputTokens));
        var provider = ProviderParameters.For(model, decision, a.TaskTotal);
        return new IssuedGrant(token, expiresAt, decision, provider, tier, a.Rule, a.PolicyVersion, Reservations(buckets, headrooms, amounts));
    }

    private static QuotaHeadroom[] Headrooms(QuotaBucket[] buckets)
    {
        var headrooms = new QuotaHeadroom[buckets.Length];
        Headrooms(buckets, headrooms);
        return headrooms;
    }

    private static void Headrooms(QuotaBucket[] buckets, QuotaHeadroom[] headrooms)
    {
        for (var i = 0; i < buckets.Length; i++)
        {
            headrooms[i] = buckets[i].Headroom();
        }
    }

    private static long[] Amounts(QuotaBucket[] buckets, BudgetDecision decision, CallFeatures features, ModelSpec model)
    {
        var amounts = new long[buckets.Length];
        for (var i = 0; i < buckets.Length; i++)
        {
            amounts[i] = MeteredAmounts.Reserved(buckets[i].Quota.Metric, decision.ReasoningTokens, decision.MaxOutputTokens, features.EstimatedInputTokens, model);
        }

        return amounts;
    }

    private static QuotaReservation[] Reservations(QuotaBucket[] buckets, QuotaHeadroom[] headrooms, long[] amounts)
    {
        var reservations = new QuotaReservation[buckets.Length];
        for (var i = 0; i < buckets.Length; i++)
        {
            var bucket = buckets[i];
            reservations[i] = new QuotaReservation(bucket.Quota, bucket.Subject, bucket.WindowStart, bucket.WindowEnd, amounts[i], Math.Max(0, headrooms[i].Remaining - amounts[i]));
        }

        return reservations;
    }

    /// <summary>The bucket of every quota of the org that applies to this call, in the org's order.</summary>
    private QuotaBucket[] Buckets(OrgPolicy org, GrantRequest request, DateTimeOffset now)
    {
        // Indexed loops: a foreach over the IReadOnlyList would allocate an enumerator each time.
        var quotas = org.Quotas;
        var count = 0;
        for (var i = 0; i < quotas.Count; i++)
        {
            if (quotas[i].SubjectFor(request.ProjectId, request.PrincipalId) is not null)
            {
                count++;
            }
        }

        var buckets = new QuotaBucket[count];
        var at = 0;
        for (var i = 0; i < quotas.Count; i++)
        {
            if (quotas[i].SubjectFor(request.ProjectId, request.PrincipalId) is { } subject)
            {
                buckets[at++] = ledger.BucketFor(quotas[i], subject, now);
            }
        }

        return buckets;
    }

    /// <summary>A quota denial (or an unsatisfiable rule) being given: counted, then thrown by the caller.</summary>
    private GovernanceException Denied(GrantRequest request, Assessment a, QuotaHeadroom[] headrooms, int limiting)
    {
        var denial = Denial(a.Buckets, headrooms, limiting);
        if (denial.Denial is { } quota)
        {
            metrics.Denied(quota.Quota.Metric, a.Org.Tier, a.Rule.TaskType, a.Model.Family);
            usage.Denied(request.OrgId, request.ProjectId, request.PrincipalId, a.Org.Tier, request.TaskType);
        }

        return denial;
    }

    private static GovernanceException Denial(QuotaBucket[] buckets, QuotaHeadroom[] headrooms, int limiting)
    {
        if (limiting < 0 && buckets.Length > 0)
        {
            // No single quota was named: blame the one with the least room relative to its limit.
            limiting = 0;
            for (var i = 1; i < buckets.Length; i++)
            {
                if (headrooms[i].Utilisation > headrooms[limiting].Utilisation)
                {
                    limiting = i;
                }
            }
        }

        if (limiting < 0)
        {
            return new GovernanceException(RefusalKind.FailedPrecondition, "RULE_UNSATISFIABLE", "The rule's minimum budget does not fit its own output cap.");
        }

        var bucket = buckets[limiting];
        return new GovernanceException(
            RefusalKind.ResourceExhausted,
            "QUOTA_EXHAUSTED",
            $"Quota '{bucket.Quota.Id}' has {headrooms[limiting].Remaining} of {bucket.Quota.Limit} left in its window, less than the rule's minimum budget.")
        {
            Denial = new QuotaDenial(bucket.Quota, bucket.Subject, bucket.WindowEnd, headrooms[limiting].Remaining),
        };
    }

    private readonly record struct Assessment(
        long PolicyVersion,
        OrgPolicy Org,
        ModelSpec Model,
        TierRule Rule,
        QuotaBucket[] Buckets,
        long? TaskLeft,
        long TaskTotal,
        CalibratedBudget Calibrated,
        Exploration Exploration,
        DateTimeOffset Now);
}
