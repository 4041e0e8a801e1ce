using Google.Protobuf;
using Microsoft.Extensions.Options;
using TaskBudgets.Governance.Budgeting;
using TaskBudgets.Governance.Calibration;
using TaskBudgets.Governance.Policies;
using TaskBudgets.Governance.Telemetry;

namespace TaskBudgets.Governance.Quotas;

/// <summary>
/// Answers "what budget may this call use?": decides the budget (Budgeting) and reserves it
/// on every applicable quota (the ledger), all or nothing, then signs the grant.
/// </summary>
public sealed class GrantIssuer(
    PolicyCatalog catalog,
    QuotaLedger ledger,
    GrantBook book,
    GrantTokens tokens,
    ReplicaIdentity replica,
    GovernanceMetrics metrics,
    TaskBudgetLedger tasks,
    CalibrationBook calibration,
    IOptions<GrantOptions> options,
    TimeProvider time)
{
    private const int DecideAttempts = 3;
    private readonly TimeSpan ttl = options.Value.Ttl;

    /// <summary>Issues a grant, or replays the one already issued for the same request id.</summary>
    /// <returns>The grant, and whether it replays an earlier answer.</returns>
    /// <exception cref="GovernanceException">Unknown org or model, no rule, or a quota denial.</exception>
    public async Task<(IssuedGrant Grant, bool Replayed)> IssueAsync(GrantRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.RequestId.Length == 0)
        {
            return (await IssueNewAsync(request, cancellationToken), false);
        }

        var issuedNow = false;
        var pending = book.GetOrIssue(request.OrgId, request.RequestId, () =>
        {
            issuedNow = true;

            // Not the first caller's token: a retry must find the grant even if that caller gave up.
            return IssueNewAsync(request, CancellationToken.None);
        });
        try
        {
            var grant = await pending.WaitAsync(cancellationToken);
            return (grant, !issuedNow);
        }
        catch
        {
            // A refusal or a storage failure is not an answer to replay: a retry decides again.
            book.ForgetRequest(request.OrgId, request.RequestId);
            throw;
        }
    }

    private async Task<IssuedGrant> IssueNewAsync(GrantRequest request, CancellationToken cancellationToken)
    {
        var policy = catalog.Current;
        var (org, model) = policy.Resolve(request.OrgId, request.ProjectId, request.Model);

        var rule = policy.Tiers.GetValueOrDefault(org.Tier)?.RuleFor(request.TaskType)
            ?? throw new GovernanceException(RefusalKind.FailedPrecondition, "NO_RULE", $"Tier '{org.Tier}' has no rule for task type '{request.TaskType}' and no '*' rule.");

        var now = time.GetUtcNow();
        var applicable = Applicable(org, request);
        var buckets = new QuotaBucket[applicable.Count];
        for (var i = 0; i < buckets.Length; i++)
        {
            buckets[i] = ledger.BucketFor(applicable[i].Quota, applicable[i].Subject, now);
            await ledger.EnsureSyncedAsync(buckets[i], now, cancellationToken);
        }

        long? taskLeft = null;
        var taskTotal = rule.TaskBudgetTokens;
        if (request.TaskId.Length > 0 && rule.TaskBudgetTokens > 0)
        {
            (taskTotal, var left) = await tasks.RemainingAsync(request.OrgId, request.TaskId, rule.TaskBudgetTokens, cancellationToken);
            taskLeft = left;
        }

        var headrooms = new QuotaHeadroom[buckets.Length];
        var amounts = new long[buckets.Length];
        var features = request.Features;
        var calibrated = rule.Adaptive ? calibration.Current.Recommend(org.Tier, rule.TaskType, rule, org.Id) : default;
        for (var attempt = 0; attempt < DecideAttempts; attempt++)
        {
            for (var i = 0; i < buckets.Length; i++)
            {
                headrooms[i] = buckets[i].Headroom();
            }

            var decision = BudgetDecision.Decide(rule, features, model, headrooms, taskLeft, calibrated);
            if (decision.Denied)
            {
                // Expired grants may not have been swept yet: free them and look again once.
                if (attempt == 0 && book.SweepExpired(time.GetUtcNow()) > 0)
                {
                    continue;
                }

                throw Denial(buckets, headrooms, decision.LimitingQuota, org.Tier, rule, model);
            }

            for (var i = 0; i < buckets.Length; i++)
            {
                amounts[i] = MeteredAmounts.Reserved(buckets[i].Quota.Metric, decision.ReasoningTokens, decision.MaxOutputTokens, features.EstimatedInputTokens, model);
            }

            if (await ledger.TryReserveAsync(buckets, amounts, cancellationToken))
            {
                return Grant(request, org.Tier, rule, model, policy.Version, decision, buckets, headrooms, amounts, now, taskTotal);
            }

            // The database had less than this replica thought: expired grants may free some,
            // and the refusal refreshed the headroom, so decide again with the truth.
            book.SweepExpired(time.GetUtcNow());
        }

        for (var i = 0; i < buckets.Length; i++)
        {
            headrooms[i] = buckets[i].Headroom();
        }

        throw Denial(buckets, headrooms, -1, org.Tier, rule, model);
    }

    private IssuedGrant Grant(
        GrantRequest request,
        string tier,
        TierRule rule,
        ModelSpec model,
        long policyVersion,
        BudgetDecision decision,
        QuotaBucket[] buckets,
        QuotaHeadroom[] headrooms,
        long[] amounts,
        DateTimeOffset now,
        long taskTotal)
    {
        var id = GrantIds.Next(now);
        var expiresAt = now + ttl;
        var claims = new GrantClaims
        {
            GrantId = UnsafeByteOperations.UnsafeWrap(id),
            OrgId = request.OrgId,
            ProjectId = request.ProjectId,
            PrincipalId = request.PrincipalId,
            TaskType = request.TaskType,
            Model = request.Model,
            Tier = tier,
            TaskId = request.TaskId,
            IssuedAtUnixMs = now.ToUnixTimeMilliseconds(),
            ExpiresAtUnixMs = expiresAt.ToUnixTimeMilliseconds(),
            ReplicaId = replica.Id,
            ReasoningTokens = decision.ReasoningTokens,
            MaxOutputTokens = decision.MaxOutputTokens,
            EstimatedInputTokens = request.Features.EstimatedInputTokens,
            PolicyVersion = policyVersion,
        };
        if (request.Features.Complexity is { } complexity)
        {
            claims.Complexity = complexity;
        }

        var reservations = new QuotaReservation[buckets.Length];
        for (var i = 0; i < buckets.Length; i++)
        {
            var bucket = buckets[i];
            claims.Reservations.Add(new ReservationClaim
            {
                QuotaId = bucket.Quota.Id,
                Subject = bucket.Subject,
                WindowStartUnixS = bucket.WindowStartUnix,
                Metric = (int)bucket.Quota.Metric,
                Amount = amounts[i],
            });
            reservations[i] = new QuotaReservation(bucket.Quota, bucket.Subject, bucket.WindowStart, bucket.WindowEnd, amounts[i], Math.Max(0, headrooms[i].Remaining - amounts[i]));
        }

        book.Add(new Guid(id), expiresAt, buckets, amounts);
        metrics.Granted(decision, tier, rule.TaskType, model.Family);
        var provider = ProviderParameters.For(model, decision, taskTotal);
        return new IssuedGrant(tokens.Sign(claims), expiresAt, decision, provider, tier, rule, policyVersion, reservations);
    }

    private static List<(QuotaDefinition Quota, string Subject)> Applicable(OrgPolicy org, GrantRequest request)
    {
        var applicable = new List<(QuotaDefinition, string)>(org.Quotas.Count);
        foreach (var quota in org.Quotas)
        {
            if (quota.SubjectFor(request.ProjectId, request.PrincipalId) is { } subject)
            {
                applicable.Add((quota, subject));
            }
        }

        return applicable;
    }

    private GovernanceException Denial(QuotaBucket[] buckets, QuotaHeadroom[] headrooms, int limiting, string tier, TierRule rule, ModelSpec model)
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
        metrics.Denied(bucket.Quota.Metric, tier, rule.TaskType, model.Family);
        return new GovernanceException(
            RefusalKind.ResourceExhausted,
            "QUOTA_EXHAUSTED",
            $"Quota '{bucket.Quota.Id}' has {headrooms[limiting].Remaining} of {bucket.Quota.Limit} left in its window, less than the rule's minimum budget.")
        {
            Denial = new QuotaDenial(bucket.Quota, bucket.Subject, bucket.WindowEnd, headrooms[limiting].Remaining),
        };
    }
}
