using Grpc.Core;
using TaskBudgets.Governance.Contract;
using TaskBudgets.Governance.Grants;
using TaskBudgets.Governance.Quotas;
using TaskBudgets.V1;

namespace TaskBudgets.Governance.Api;

/// <summary>The data plane over gRPC: check, map, call the domain, map back.</summary>
[BindServiceMethod(typeof(BudgetGrpcService), nameof(BindService))]
public sealed class BudgetGrpcService(GrantIssuer issuer, UsageSettlement settlement) : BudgetService.BudgetServiceBase
{
    /// <summary>The service's descriptor, where JSON transcoding and reflection look for it (beside <see cref="BindService"/>).</summary>
    public static Google.Protobuf.Reflection.ServiceDescriptor Descriptor => BudgetService.Descriptor;

    /// <summary>
    /// Binds the generated methods with their request decoding checked (<see cref="CheckedDecoding"/>).
    /// grpc-dotnet finds it through the attribute, and finds each method's handler as an override of
    /// the parameter's type: the generated base class.
    /// </summary>
    public static void BindService(ServiceBinderBase binder, BudgetService.BudgetServiceBase? service) => BudgetService.BindService(CheckedDecoding.Around(binder), service);

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
