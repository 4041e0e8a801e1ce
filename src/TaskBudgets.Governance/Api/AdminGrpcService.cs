using Grpc.Core;
using TaskBudgets.Governance.Admin;
using TaskBudgets.Governance.Auth;
using TaskBudgets.V1;

namespace TaskBudgets.Governance.Api;

/// <summary>The control plane over gRPC: read the caller's identity, call the admin domain, map back.</summary>
[BindServiceMethod(typeof(AdminGrpcService), nameof(BindService))]
public sealed class AdminGrpcService(
    PolicyAdmin policy,
    KeyAdmin keys,
    UsageSummaries usage,
    BudgetSimulator simulator,
    PolicyReplay replay,
    CalibrationReport calibration,
    AuditLog audit) : AdminService.AdminServiceBase
{
    /// <summary>The service's descriptor, where JSON transcoding and reflection look for it (beside <see cref="BindService"/>).</summary>
    public static Google.Protobuf.Reflection.ServiceDescriptor Descriptor => AdminService.Descriptor;

    /// <summary>
    /// Binds the generated methods with their request decoding checked (<see cref="CheckedDecoding"/>).
    /// grpc-dotnet finds it through the attribute, and finds each method's handler as an override of
    /// the parameter's type: the generated base class.
    /// </summary>
    public static void BindService(ServiceBinderBase binder, AdminService.AdminServiceBase? service) => AdminService.BindService(CheckedDecoding.Around(binder), service);

    public override async Task<CreateOrgResponse> CreateOrg(CreateOrgRequest request, ServerCallContext context) =>
        new() { Org = await policy.CreateOrgAsync(CallerIdentity.Of(context), request.Org, context.CancellationToken) };

    public override async Task<GetOrgResponse> GetOrg(GetOrgRequest request, ServerCallContext context) =>
        new() { Org = await policy.GetOrgAsync(request.OrgId, context.CancellationToken) };

    public override async Task<ListOrgsResponse> ListOrgs(ListOrgsRequest request, ServerCallContext context)
    {
        var (orgs, next) = await policy.ListOrgsAsync(Paging.Read(request.PageSize, request.PageToken), request.Tier, context.CancellationToken);
        return new ListOrgsResponse { Orgs = { orgs }, NextPageToken = next };
    }

    public override async Task<UpdateOrgResponse> UpdateOrg(UpdateOrgRequest request, ServerCallContext context) =>
        new() { Org = await policy.UpdateOrgAsync(CallerIdentity.Of(context), request.Org, request.UpdateMask?.Paths ?? [], request.Etag, context.CancellationToken) };

    public override async Task<DeleteOrgResponse> DeleteOrg(DeleteOrgRequest request, ServerCallContext context)
    {
        await policy.DeleteOrgAsync(CallerIdentity.Of(context), request.OrgId, request.Etag, context.CancellationToken);
        return new DeleteOrgResponse();
    }

    public override async Task<UpsertTierResponse> UpsertTier(UpsertTierRequest request, ServerCallContext context)
    {
        var (tier, created) = await policy.UpsertTierAsync(CallerIdentity.Of(context), request.Tier, request.Etag, context.CancellationToken);
        return new UpsertTierResponse { Tier = tier, Created = created };
    }

    public override async Task<GetTierResponse> GetTier(GetTierRequest request, ServerCallContext context) =>
        new() { Tier = await policy.GetTierAsync(request.Name, context.CancellationToken) };

    public override async Task<ListTiersResponse> ListTiers(ListTiersRequest request, ServerCallContext context)
    {
        var (tiers, next) = await policy.ListTiersAsync(Paging.Read(request.PageSize, request.PageToken), context.CancellationToken);
        return new ListTiersResponse { Tiers = { tiers }, NextPageToken = next };
    }

    public override async Task<DeleteTierResponse> DeleteTier(DeleteTierRequest request, ServerCallContext context)
    {
        await policy.DeleteTierAsync(CallerIdentity.Of(context), request.Name, request.Etag, context.CancellationToken);
        return new DeleteTierResponse();
    }

    public override async Task<SetQuotaResponse> SetQuota(SetQuotaRequest request, ServerCallContext context)
    {
        var (quota, created) = await policy.SetQuotaAsync(CallerIdentity.Of(context), request.Quota, request.Etag, context.CancellationToken);
        return new SetQuotaResponse { Quota = quota, Created = created };
    }

    public override async Task<GetQuotaResponse> GetQuota(GetQuotaRequest request, ServerCallContext context) =>
        new() { Quota = await policy.GetQuotaAsync(request.OrgId, request.QuotaId, context.CancellationToken) };

    public override async Task<ListQuotasResponse> ListQuotas(ListQuotasRequest request, ServerCallContext context)
    {
        var (quotas, next) = await policy.ListQuotasAsync(request.OrgId, Paging.Read(request.PageSize, request.PageToken), context.CancellationToken);
        return new ListQuotasResponse { Quotas = { quotas }, NextPageToken = next };
    }

    public override async Task<DeleteQuotaResponse> DeleteQuota(DeleteQuotaRequest request, ServerCallContext context)
    {
        await policy.DeleteQuotaAsync(CallerIdentity.Of(context), request.OrgId, request.QuotaId, request.Etag, context.CancellationToken);
        return new DeleteQuotaResponse();
    }

    public override async Task<SetModelResponse> SetModel(SetModelRequest request, ServerCallContext context)
    {
        var (model, created) = await policy.SetModelAsync(CallerIdentity.Of(context), request.Model, request.Etag, context.CancellationToken);
        return new SetModelResponse { Model = model, Created = created };
    }

    public override async Task<ListModelsResponse> ListModels(ListModelsRequest request, ServerCallContext context)
    {
        var (models, next) = await policy.ListModelsAsync(Paging.Read(request.PageSize, request.PageToken), context.CancellationToken);
        return new ListModelsResponse { Models = { models }, NextPageToken = next };
    }

    public override async Task<CreateApiKeyResponse> CreateApiKey(CreateApiKeyRequest request, ServerCallContext context)
    {
        var (key, secret) = await keys.CreateAsync(CallerIdentity.Of(context), request.Role, request.OrgId, request.Description, context.CancellationToken);
        return new CreateApiKeyResponse { ApiKey = key, Secret = secret };
    }

    public override async Task<ListApiKeysResponse> ListApiKeys(ListApiKeysRequest request, ServerCallContext context)
    {
        var (list, next) = await keys.ListAsync(request.OrgId, request.IncludeRevoked, Paging.Read(request.PageSize, request.PageToken), context.CancellationToken);
        return new ListApiKeysResponse { ApiKeys = { list }, NextPageToken = next };
    }

    public override async Task<RevokeApiKeyResponse> RevokeApiKey(RevokeApiKeyRequest request, ServerCallContext context) =>
        new() { ApiKey = await keys.RevokeAsync(CallerIdentity.Of(context), request.KeyId, request.OrgId, context.CancellationToken) };

    public override Task<GetUsageSummaryResponse> GetUsageSummary(GetUsageSummaryRequest request, ServerCallContext context) =>
        usage.GetAsync(request, context.CancellationToken);

    public override Task<SimulateBudgetResponse> SimulateBudget(SimulateBudgetRequest request, ServerCallContext context) =>
        simulator.SimulateAsync(request.BudgetRequest, context.CancellationToken);

    public override Task<SimulatePolicyResponse> SimulatePolicy(SimulatePolicyRequest request, ServerCallContext context) =>
        replay.SimulateAsync(request, context.CancellationToken);

    public override Task<GetCalibrationResponse> GetCalibration(GetCalibrationRequest request, ServerCallContext context) =>
        Task.FromResult(calibration.Get(request));

    public override async Task<ListAuditEventsResponse> ListAuditEvents(ListAuditEventsRequest request, ServerCallContext context)
    {
        var (events, next) = await audit.ListAsync(request, Paging.Read(request.PageSize, request.PageToken), context.CancellationToken);
        return new ListAuditEventsResponse { Events = { events }, NextPageToken = next };
    }
}
