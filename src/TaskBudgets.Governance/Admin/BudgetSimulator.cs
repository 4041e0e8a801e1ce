using Google.Rpc;
using Grpc.Core;
using TaskBudgets.Governance.Api;
using TaskBudgets.Governance.Budgeting;
using TaskBudgets.Governance.Calibration;
using TaskBudgets.Governance.Policies;
using TaskBudgets.Governance.Quotas;
using TaskBudgets.V1;

namespace TaskBudgets.Governance.Admin;

/// <summary>
/// What GetBudget would answer now: the same decision (<see cref="BudgetDecision.Decide"/>) on the
/// same quota headroom, with no reservation, no lease taken and no grant issued.
/// </summary>
public sealed class BudgetSimulator(PolicyCatalog catalog, QuotaLedger ledger, TaskBudgetLedger tasks, CalibrationBook calibration, TimeProvider time)
{
    public async Task<SimulateBudgetResponse> SimulateAsync(GetBudgetRequest? ask, CancellationToken cancellationToken)
    {
        if (ask is null)
        {
            throw GovernanceException.Invalid([new FieldProblem("budget_request", "is required")]);
        }

        CheckShape(ask);
        var request = ProtoMapping.ToDomain(ask);
        var policy = catalog.Current;
        var (org, model) = policy.Resolve(request.OrgId, request.ProjectId, request.Model);

        var rule = policy.Tiers.GetValueOrDefault(org.Tier)?.RuleFor(request.TaskType)
            ?? throw new GovernanceException(RefusalKind.FailedPrecondition, "NO_RULE", $"Tier '{org.Tier}' has no rule for task type '{request.TaskType}' and no '*' rule.");

        var now = time.GetUtcNow();
        var buckets = new List<QuotaBucket>();
        foreach (var quota in org.Quotas)
        {
            if (quota.SubjectFor(request.ProjectId, request.PrincipalId) is { } subject)
            {
                var bucket = ledger.BucketFor(quota, subject, now);
                await ledger.EnsureSyncedAsync(bucket, now, cancellationToken);
                buckets.Add(bucket);
            }
        }

        long? taskLeft = null;
        var taskTotal = rule.TaskBudgetTokens;
        if (request.TaskId.Length > 0 && rule.TaskBudgetTokens > 0)
        {
            (taskTotal, var left) = await tasks.PeekAsync(request.OrgId, request.TaskId, rule.TaskBudgetTokens, cancellationToken);
            taskLeft = left;
        }

        var headrooms = buckets.Select(b => b.Headroom()).ToArray();
        var calibrated = rule.Adaptive ? calibration.Current.Recommend(org.Tier, rule.TaskType, rule, org.Id) : default;
        var decision = BudgetDecision.Decide(rule, request.Features, model, headrooms, taskLeft, calibrated);
        if (decision.Denied)
        {
            var limiting = decision.LimitingQuota;
            if (limiting < 0 && buckets.Count > 0)
            {
                limiting = Enumerable.Range(0, buckets.Count).MaxBy(i => headrooms[i].Utilisation);
            }

            return new SimulateBudgetResponse
            {
                Denied = true,
                DenialReason = limiting < 0 ? "RULE_UNSATISFIABLE" : "QUOTA_EXHAUSTED",
                DenialMessage = limiting < 0
                    ? "The rule's minimum budget does not fit its own output cap."
                    : $"Quota '{buckets[limiting].Quota.Id}' has {headrooms[limiting].Remaining} of {buckets[limiting].Quota.Limit} left in its window, less than the rule's minimum budget.",
                LimitingQuotaId = limiting < 0 ? string.Empty : buckets[limiting].Quota.Id,
            };
        }

        var reservations = new List<QuotaReservation>(buckets.Count);
        for (var i = 0; i < buckets.Count; i++)
        {
            var b = buckets[i];
            var amount = MeteredAmounts.Reserved(b.Quota.Metric, decision.ReasoningTokens, decision.MaxOutputTokens, request.Features.EstimatedInputTokens, model);
            reservations.Add(new QuotaReservation(b.Quota, b.Subject, b.WindowStart, b.WindowEnd, amount, Math.Max(0, headrooms[i].Remaining - amount)));
        }

        var provider = Budgeting.ProviderParameters.For(model, decision, taskTotal);
        var grant = new IssuedGrant(string.Empty, now, decision, provider, org.Tier, rule, policy.Version, reservations);
        var answer = ProtoMapping.ToProto(grant, replayed: false);
        answer.ExpiresAt = null;
        return new SimulateBudgetResponse { Grant = answer };
    }

    /// <summary>GetBudget's own checks, with the fields named inside budget_request.</summary>
    private static void CheckShape(GetBudgetRequest ask)
    {
        try
        {
            RequestValidation.Check(ask);
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.InvalidArgument && e.GetRpcStatus()?.GetDetail<BadRequest>() is { } bad)
        {
            throw GovernanceException.Invalid(bad.FieldViolations.Select(v => new FieldProblem("budget_request." + v.Field, v.Description)).ToList());
        }
    }
}
