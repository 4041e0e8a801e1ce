using TaskBudgets.Governance.Contract;
using TaskBudgets.Governance.Grants;
using TaskBudgets.Governance.Quotas;
using TaskBudgets.V1;

namespace TaskBudgets.Governance.Admin;

/// <summary>
/// What GetBudget would answer now: <see cref="GrantIssuer.PreviewAsync"/>, the same decision on
/// the same quota headroom, with no reservation, no lease taken and no grant issued.
/// </summary>
public sealed class BudgetSimulator(GrantIssuer issuer)
{
    public async Task<SimulateBudgetResponse> SimulateAsync(GetBudgetRequest? ask, CancellationToken cancellationToken)
    {
        if (ask is null)
        {
            throw GovernanceException.Invalid([new FieldProblem("budget_request", "is required")]);
        }

        CheckShape(ask);
        var preview = await issuer.PreviewAsync(ProtoMapping.ToDomain(ask), cancellationToken);
        if (preview.Grant is { } grant)
        {
            var answer = ProtoMapping.ToProto(grant, replayed: false);
            answer.ExpiresAt = null;
            return new SimulateBudgetResponse { Grant = answer };
        }

        var refusal = preview.Refusal;
        return new SimulateBudgetResponse
        {
            Denied = true,
            DenialReason = refusal?.Reason ?? string.Empty,
            DenialMessage = refusal?.Message ?? string.Empty,
            LimitingQuotaId = refusal?.Denial?.Quota.Id ?? string.Empty,
        };
    }

    /// <summary>GetBudget's own checks, with the fields named inside budget_request.</summary>
    private static void CheckShape(GetBudgetRequest ask)
    {
        var problems = RequestValidation.ProblemsOf(ask);
        if (problems.Count > 0)
        {
            throw GovernanceException.Invalid([.. problems.Select(p => p with { Field = "budget_request." + p.Field })]);
        }
    }
}
