using Grpc.Core;
using TaskBudgets.Governance.Tests.Infrastructure;
using TaskBudgets.V1;

namespace TaskBudgets.Governance.Tests.Auth;

/// <summary>
/// Every RPC of both services, called with every kind of key, against one table of who may call
/// what. The requests name org "acme"; the caller and org admin keys are bound to it.
/// </summary>
public sealed class AuthorizationSweepTests : AppTests
{
    private const string Acme = "acme";
    private int serial;

    private enum Role
    {
        None = 0,
        BadKey = 1,
        Caller = 2,
        OrgAdmin = 3,
        Admin = 4,
    }

    /// <summary>The least role that may make each call (for a request naming the key's own org).</summary>
    private static readonly Dictionary<string, Role> Least = new()
    {
        ["BudgetService/GetBudget"] = Role.Caller,
        ["BudgetService/ReportUsage"] = Role.Caller,
        ["BudgetService/ReleaseBudget"] = Role.Caller,
        ["AdminService/CreateOrg"] = Role.Admin,
        ["AdminService/GetOrg"] = Role.OrgAdmin,
        ["AdminService/ListOrgs"] = Role.Admin,
        ["AdminService/UpdateOrg"] = Role.OrgAdmin,
        ["AdminService/DeleteOrg"] = Role.Admin,
        ["AdminService/UpsertTier"] = Role.Admin,
        ["AdminService/GetTier"] = Role.OrgAdmin,
        ["AdminService/ListTiers"] = Role.OrgAdmin,
        ["AdminService/DeleteTier"] = Role.Admin,
        ["AdminService/SetQuota"] = Role.OrgAdmin,
        ["AdminService/GetQuota"] = Role.OrgAdmin,
        ["AdminService/ListQuotas"] = Role.OrgAdmin,
        ["AdminService/DeleteQuota"] = Role.OrgAdmin,
        ["AdminService/SetModel"] = Role.Admin,
        ["AdminService/ListModels"] = Role.OrgAdmin,
        ["AdminService/CreateApiKey"] = Role.OrgAdmin,
        ["AdminService/ListApiKeys"] = Role.OrgAdmin,
        ["AdminService/RevokeApiKey"] = Role.OrgAdmin,
        ["AdminService/GetUsageSummary"] = Role.OrgAdmin,
        ["AdminService/SimulateBudget"] = Role.OrgAdmin,
        ["AdminService/SimulatePolicy"] = Role.OrgAdmin,
        ["AdminService/ListAuditEvents"] = Role.OrgAdmin,
        ["AdminService/GetCalibration"] = Role.OrgAdmin,
    };

    [Fact]
    public void The_table_covers_every_rpc_of_both_services()
    {
        var rpcs = BudgetService.Descriptor.Methods.Select(m => $"BudgetService/{m.Name}")
            .Concat(AdminService.Descriptor.Methods.Select(m => $"AdminService/{m.Name}"));

        Assert.Equal(rpcs.Order(), Least.Keys.Order());
        Assert.Equal(rpcs.Order(), Calls().Keys.Order());
    }

    [Fact]
    public async Task Every_rpc_allows_and_denies_each_role_as_the_table_says()
    {
        var keys = new Dictionary<Role, string?>
        {
            [Role.None] = null,
            [Role.BadKey] = "tb_" + new string('x', 43),
            [Role.Caller] = (await App.CreateKeyAsync(ApiKeyRole.Caller, Acme)).Secret,
            [Role.OrgAdmin] = (await App.CreateKeyAsync(ApiKeyRole.OrgAdmin, Acme)).Secret,
            [Role.Admin] = GovernanceApp.AdminKey,
        };
        var mismatches = new List<string>();

        foreach (var (rpc, call) in Calls())
        {
            foreach (var (role, key) in keys)
            {
                var expected = role <= Role.BadKey ? StatusCode.Unauthenticated
                    : role < Least[rpc] ? StatusCode.PermissionDenied
                    : StatusCode.OK;
                var actual = await OutcomeAsync(() => call(App.Invoker(key)));
                if (actual != expected)
                {
                    mismatches.Add($"{rpc} as {role}: expected {expected}, got {actual}");
                }
            }
        }

        Assert.Empty(mismatches);
    }

    /// <summary>OK when the call got past authentication and authorisation (it may still fail on its input).</summary>
    private static async Task<StatusCode> OutcomeAsync(Func<Task> call)
    {
        try
        {
            await call();
            return StatusCode.OK;
        }
        catch (RpcException e) when (e.StatusCode is StatusCode.Unauthenticated or StatusCode.PermissionDenied)
        {
            return e.StatusCode;
        }
        catch (RpcException)
        {
            return StatusCode.OK;
        }
    }

    private Dictionary<string, Func<CallInvoker, Task>> Calls()
    {
        static BudgetService.BudgetServiceClient B(CallInvoker i) => new(i);
        static AdminService.AdminServiceClient A(CallInvoker i) => new(i);
        var ask = new GetBudgetRequest { OrgId = Acme, TaskType = "support", Model = "claude-test" };
        return new Dictionary<string, Func<CallInvoker, Task>>
        {
            ["BudgetService/GetBudget"] = i => B(i).GetBudgetAsync(ask).ResponseAsync,
            ["BudgetService/ReportUsage"] = async i =>
            {
                var grant = await App.Budgets.GetBudgetAsync(ask);
                await B(i).ReportUsageAsync(new ReportUsageRequest { GrantId = grant.GrantId, Usage = new UsageTokens { OutputTokens = 10 } });
            },
            ["BudgetService/ReleaseBudget"] = async i =>
            {
                var grant = await App.Budgets.GetBudgetAsync(ask);
                await B(i).ReleaseBudgetAsync(new ReleaseBudgetRequest { GrantId = grant.GrantId });
            },
            ["AdminService/CreateOrg"] = i => A(i).CreateOrgAsync(new CreateOrgRequest { Org = new Org { OrgId = $"sweep-{++serial}", Tier = "standard" } }).ResponseAsync,
            ["AdminService/GetOrg"] = i => A(i).GetOrgAsync(new GetOrgRequest { OrgId = Acme }).ResponseAsync,
            ["AdminService/ListOrgs"] = i => A(i).ListOrgsAsync(new ListOrgsRequest()).ResponseAsync,
            ["AdminService/UpdateOrg"] = i => A(i).UpdateOrgAsync(new UpdateOrgRequest
            {
                Org = new Org { OrgId = Acme, DisplayName = $"Acme {++serial}" },
                UpdateMask = new Google.Protobuf.WellKnownTypes.FieldMask { Paths = { "display_name" } },
            }).ResponseAsync,
            ["AdminService/DeleteOrg"] = i => A(i).DeleteOrgAsync(new DeleteOrgRequest { OrgId = "ghost" }).ResponseAsync,
            ["AdminService/UpsertTier"] = i => A(i).UpsertTierAsync(new UpsertTierRequest { Tier = AdminFixtures.Tier("sweep") }).ResponseAsync,
            ["AdminService/GetTier"] = i => A(i).GetTierAsync(new GetTierRequest { Name = "standard" }).ResponseAsync,
            ["AdminService/ListTiers"] = i => A(i).ListTiersAsync(new ListTiersRequest()).ResponseAsync,
            ["AdminService/DeleteTier"] = i => A(i).DeleteTierAsync(new DeleteTierRequest { Name = "ghost" }).ResponseAsync,
            ["AdminService/SetQuota"] = i => A(i).SetQuotaAsync(new SetQuotaRequest
            {
                Quota = new Quota { OrgId = Acme, Scope = QuotaScope.Principal, Subject = "sweeper", Metric = QuotaMetric.Requests, Window = QuotaWindow.Minute, Limit = 1000 },
            }).ResponseAsync,
            ["AdminService/GetQuota"] = i => A(i).GetQuotaAsync(new GetQuotaRequest { OrgId = Acme, QuotaId = "acme:reasoning_tokens:day" }).ResponseAsync,
            ["AdminService/ListQuotas"] = i => A(i).ListQuotasAsync(new ListQuotasRequest { OrgId = Acme }).ResponseAsync,
            ["AdminService/DeleteQuota"] = i => A(i).DeleteQuotaAsync(new DeleteQuotaRequest { OrgId = Acme, QuotaId = "no-such-quota" }).ResponseAsync,
            ["AdminService/SetModel"] = i => A(i).SetModelAsync(new SetModelRequest { Model = AdminFixtures.Model("sweep-model") }).ResponseAsync,
            ["AdminService/ListModels"] = i => A(i).ListModelsAsync(new ListModelsRequest()).ResponseAsync,
            ["AdminService/CreateApiKey"] = i => A(i).CreateApiKeyAsync(new CreateApiKeyRequest { Role = ApiKeyRole.Caller, OrgId = Acme }).ResponseAsync,
            ["AdminService/ListApiKeys"] = i => A(i).ListApiKeysAsync(new ListApiKeysRequest { OrgId = Acme }).ResponseAsync,
            ["AdminService/RevokeApiKey"] = i => A(i).RevokeApiKeyAsync(new RevokeApiKeyRequest { OrgId = Acme, KeyId = "key_nope" }).ResponseAsync,
            ["AdminService/GetUsageSummary"] = i => A(i).GetUsageSummaryAsync(new GetUsageSummaryRequest { OrgId = Acme }).ResponseAsync,
            ["AdminService/SimulateBudget"] = i => A(i).SimulateBudgetAsync(new SimulateBudgetRequest { BudgetRequest = ask }).ResponseAsync,
            ["AdminService/SimulatePolicy"] = i => A(i).SimulatePolicyAsync(new SimulatePolicyRequest { OrgId = Acme, PolicyYaml = TestPolicy.Yaml }).ResponseAsync,
            ["AdminService/ListAuditEvents"] = i => A(i).ListAuditEventsAsync(new ListAuditEventsRequest { OrgId = Acme }).ResponseAsync,
            ["AdminService/GetCalibration"] = i => A(i).GetCalibrationAsync(new GetCalibrationRequest { OrgId = Acme }).ResponseAsync,
        };
    }
}
