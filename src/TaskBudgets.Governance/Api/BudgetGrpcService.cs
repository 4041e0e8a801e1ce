using Grpc.Core;
using TaskBudgets.Governance.Contract;
using TaskBudgets.Governance.Grants;
using TaskBudgets.Governance.Quotas;
using TaskBudgets.V1;

namespace TaskBudgets.Governance.Api;

/// <summary>The data plane over gRPC: check, map, call the domain, map back.</summary>
public sealed class BudgetGrpcService(GrantIssuer issuer, UsageSettlement settlement) : BudgetService.BudgetServiceBase
{
    public override async Task<GetBudgetResponse> GetBudget(GetBudgetRequest request, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        RequestValidation.Check(request);
        var (grant, replayed) = await issuer.IssueAsync(ProtoMapping.ToDomain(request), context.CancellationToken);
        return ProtoMapping.ToProto(grant, replayed);
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
