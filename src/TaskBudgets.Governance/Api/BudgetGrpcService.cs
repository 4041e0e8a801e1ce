using Grpc.Core;
using TaskBudgets.Governance.Admin;
using TaskBudgets.Governance.Quotas;
using TaskBudgets.V1;

namespace TaskBudgets.Governance.Api;

/// <summary>The data plane over gRPC: check, map, call the domain, map back.</summary>
public sealed class BudgetGrpcService(GrantIssuer issuer, UsageSettlement settlement, UsageCounters usage) : BudgetService.BudgetServiceBase
{
    public override async Task<GetBudgetResponse> GetBudget(GetBudgetRequest request, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        RequestValidation.Check(request);
        var ask = ProtoMapping.ToDomain(request);
        try
        {
            var (grant, replayed) = await issuer.IssueAsync(ask, context.CancellationToken);
            if (!replayed)
            {
                usage.Granted(ask, grant);
            }

            return ProtoMapping.ToProto(grant, replayed);
        }
        catch (GovernanceException e) when (e.Kind == RefusalKind.ResourceExhausted)
        {
            usage.Denied(ask);
            throw;
        }
    }

    public override async Task<ReportUsageResponse> ReportUsage(ReportUsageRequest request, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        RequestValidation.Check(request);
        var result = await settlement.ReportAsync(ProtoMapping.ToDomain(request), context.CancellationToken);
        return ProtoMapping.ToProto(result);
    }

    public override async Task<ReleaseBudgetResponse> ReleaseBudget(ReleaseBudgetRequest request, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        RequestValidation.Check(request);
        var released = await settlement.ReleaseAsync(request.GrantId, context.CancellationToken);
        return new ReleaseBudgetResponse { AlreadySettled = !released };
    }
}
