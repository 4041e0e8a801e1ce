using System.Security.Cryptography;
using System.Text;
using Google.Protobuf;
using Google.Rpc;
using Grpc.Core;
using Microsoft.EntityFrameworkCore;
using TaskBudgets.Governance.Tests.Api;
using TaskBudgets.Governance.Tests.Infrastructure;
using TaskBudgets.V1;

namespace TaskBudgets.Governance.Tests.Auth;

/// <summary>Keys: how they look, how they are stored, who they let in, and that revocation holds.</summary>
public sealed class KeyAuthenticationTests : AppTests
{
    private static readonly GetBudgetRequest AcmeAsk = new() { OrgId = "acme", TaskType = "support", Model = "claude-test" };

    [Theory]
    [InlineData(null, "KEY_MISSING")]
    [InlineData("", "KEY_MISSING")]
    [InlineData("Basic dXNlcjpwYXNz", "KEY_MISSING")]
    [InlineData("Bearer ", "KEY_MISSING")]
    [InlineData("Bearer tb_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "KEY_INVALID")]
    [InlineData("Bearer not-a-key", "KEY_INVALID")]
    public async Task A_missing_or_unknown_key_is_unauthenticated_and_changes_nothing(string? header, string reason)
    {
        var headers = new Metadata();
        if (header is not null)
        {
            headers.Add("authorization", header);
        }

        var client = new BudgetService.BudgetServiceClient(App.Channel);

        await RpcAssert.FailsAsync(StatusCode.Unauthenticated, reason, () => client.GetBudgetAsync(AcmeAsk, headers).ResponseAsync);
        Assert.Empty(await App.CountersAsync());
    }

    [Fact]
    public async Task A_new_key_has_the_tb_prefix_is_stored_only_as_its_hash_and_is_never_listed_with_its_secret()
    {
        var created = await App.Admin.CreateApiKeyAsync(new CreateApiKeyRequest { Role = ApiKeyRole.Caller, OrgId = "acme", Description = "billing service" });

        Assert.Matches("^tb_[A-Za-z0-9_-]{43}$", created.Secret);
        Assert.StartsWith("key_", created.ApiKey.KeyId, StringComparison.Ordinal);
        Assert.Equal(KeyDirectoryBootstrapId, created.ApiKey.CreatedBy);
        await using var db = App.Db();
        var row = await db.ApiKeys.AsNoTracking().SingleAsync(k => k.Id == created.ApiKey.KeyId);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(created.Secret))), row.Hash);
        Assert.DoesNotContain(created.Secret, string.Join("|", row.Id, row.Hash, row.Description, row.OrgId, row.CreatedBy), StringComparison.Ordinal);
        var listed = await App.Admin.ListApiKeysAsync(new ListApiKeysRequest { OrgId = "acme" });
        var json = JsonFormatter.Default.Format(listed);
        Assert.Contains(created.ApiKey.KeyId, json, StringComparison.Ordinal);
        Assert.DoesNotContain(created.Secret, json, StringComparison.Ordinal);
        Assert.DoesNotContain(created.Secret[3..], json, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_caller_key_spends_its_own_orgs_budget()
    {
        var (secret, _) = await App.CreateKeyAsync(ApiKeyRole.Caller, "acme");
        var budgets = App.BudgetsFor(secret);

        var grant = await budgets.GetBudgetAsync(AcmeAsk);
        var report = await budgets.ReportUsageAsync(new ReportUsageRequest { GrantId = grant.GrantId, Usage = new UsageTokens { OutputTokens = 100, ReasoningTokens = 50 } });

        Assert.False(report.Duplicate);
    }

    [Fact]
    public async Task A_revoked_key_is_refused_at_once_on_the_replica_that_revoked_it()
    {
        var (secret, keyId) = await App.CreateKeyAsync(ApiKeyRole.Caller, "acme");
        await App.BudgetsFor(secret).GetBudgetAsync(AcmeAsk);

        var revoked = await App.Admin.RevokeApiKeyAsync(new RevokeApiKeyRequest { KeyId = keyId });

        Assert.NotNull(revoked.ApiKey.RevokeTime);
        await RpcAssert.FailsAsync(StatusCode.Unauthenticated, "KEY_INVALID", () => App.BudgetsFor(secret).GetBudgetAsync(AcmeAsk).ResponseAsync);
        var active = await App.Admin.ListApiKeysAsync(new ListApiKeysRequest { OrgId = "acme" });
        Assert.DoesNotContain(active.ApiKeys, k => k.KeyId == keyId);
        var all = await App.Admin.ListApiKeysAsync(new ListApiKeysRequest { OrgId = "acme", IncludeRevoked = true });
        Assert.Contains(all.ApiKeys, k => k.KeyId == keyId);
    }

    [Fact]
    public async Task Deleting_an_org_revokes_its_keys()
    {
        await App.Admin.CreateOrgAsync(new CreateOrgRequest { Org = new Org { OrgId = "doomed", Tier = "standard" } });
        var (secret, _) = await App.CreateKeyAsync(ApiKeyRole.OrgAdmin, "doomed");
        await App.AdminFor(secret).GetOrgAsync(new GetOrgRequest { OrgId = "doomed" });

        await App.Admin.DeleteOrgAsync(new DeleteOrgRequest { OrgId = "doomed" });

        await RpcAssert.FailsAsync(StatusCode.Unauthenticated, "KEY_INVALID", () => App.AdminFor(secret).GetOrgAsync(new GetOrgRequest { OrgId = "doomed" }).ResponseAsync);
    }

    [Fact]
    public async Task Health_and_reflection_need_no_key()
    {
        var health = new Grpc.Health.V1.Health.HealthClient(App.Channel);
        var reflection = new Grpc.Reflection.V1Alpha.ServerReflection.ServerReflectionClient(App.Channel);

        var serving = await health.CheckAsync(new Grpc.Health.V1.HealthCheckRequest { Service = "taskbudgets.v1.BudgetService" });
        using var call = reflection.ServerReflectionInfo();
        await call.RequestStream.WriteAsync(new Grpc.Reflection.V1Alpha.ServerReflectionRequest { ListServices = string.Empty });
        await call.RequestStream.CompleteAsync();
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));

        Assert.Equal(Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus.Serving, serving.Status);
        Assert.Contains(call.ResponseStream.Current.ListServicesResponse.Service, s => s.Name == "taskbudgets.v1.AdminService");
    }

    private const string KeyDirectoryBootstrapId = "bootstrap-admin";
}

/// <summary>Tenant isolation: a key bound to one org can neither spend, settle nor read another's.</summary>
public sealed class TenantIsolationTests : AppTests
{
    private string callerOfAcme = string.Empty;
    private string orgAdminOfAcme = string.Empty;

    public override async ValueTask InitializeAsync()
    {
        await base.InitializeAsync();
        callerOfAcme = (await App.CreateKeyAsync(ApiKeyRole.Caller, "acme")).Secret;
        orgAdminOfAcme = (await App.CreateKeyAsync(ApiKeyRole.OrgAdmin, "acme")).Secret;
    }

    private static GetBudgetRequest Ask(string org) => new() { OrgId = org, TaskType = "support", Model = "claude-test" };

    private static ReportUsageRequest Report(string grantId) => new() { GrantId = grantId, Usage = new UsageTokens { OutputTokens = 100, ReasoningTokens = 50 } };

    [Theory]
    [InlineData("caller")]
    [InlineData("org admin")]
    public async Task A_key_cannot_spend_settle_or_release_another_orgs_budget(string role)
    {
        var key = role == "caller" ? callerOfAcme : orgAdminOfAcme;
        var budgets = App.BudgetsFor(key);
        var smallsGrant = await App.Budgets.GetBudgetAsync(Ask("small"));
        var before = await App.CountersAsync();

        var denied = new[]
        {
            await Refused(() => budgets.GetBudgetAsync(Ask("small")).ResponseAsync),
            await Refused(() => budgets.ReportUsageAsync(Report(smallsGrant.GrantId)).ResponseAsync),
            await Refused(() => budgets.ReleaseBudgetAsync(new ReleaseBudgetRequest { GrantId = smallsGrant.GrantId }).ResponseAsync),
            await Refused(() => budgets.ReportUsageAsync(new ReportUsageRequest
            {
                OrgId = "small", TaskType = "support", Model = "claude-test", ReportId = "r-1", Usage = new UsageTokens { OutputTokens = 5 },
            }).ResponseAsync),
        };

        Assert.All(denied, status => Assert.Equal("PERMISSION_DENIED", status.GetDetail<ErrorInfo>().Reason));
        Assert.Equal(before.Select(c => (c.CounterKey, c.Consumed, c.Leased)), (await App.CountersAsync()).Select(c => (c.CounterKey, c.Consumed, c.Leased)));
        await using (var db = App.Db())
        {
            Assert.Equal(0, await db.Settlements.CountAsync());
        }

        // The grant is intact: its own org settles it, on time.
        var settled = await App.Budgets.ReportUsageAsync(Report(smallsGrant.GrantId));
        Assert.False(settled.Late);
        Assert.False(settled.Duplicate);
    }

    [Fact]
    public async Task A_caller_that_names_no_org_is_told_what_is_missing_not_refused()
    {
        var status = await RpcAssert.FailsAsync(StatusCode.InvalidArgument, "INVALID_ARGUMENT", () => App.BudgetsFor(callerOfAcme).GetBudgetAsync(Ask(string.Empty)).ResponseAsync);

        RpcAssert.NamesField(status, "org_id");
    }

    [Fact]
    public async Task A_caller_cannot_read_usage_or_call_any_admin_rpc()
    {
        var admin = App.AdminFor(callerOfAcme);

        await Refused(() => admin.GetUsageSummaryAsync(new GetUsageSummaryRequest { OrgId = "acme" }).ResponseAsync);
        await Refused(() => admin.GetUsageSummaryAsync(new GetUsageSummaryRequest { OrgId = "small" }).ResponseAsync);
        await Refused(() => admin.SimulateBudgetAsync(new SimulateBudgetRequest { BudgetRequest = Ask("acme") }).ResponseAsync);
        await Refused(() => admin.CreateApiKeyAsync(new CreateApiKeyRequest { Role = ApiKeyRole.Caller, OrgId = "acme" }).ResponseAsync);
    }

    [Fact]
    public async Task An_org_admin_manages_its_own_org_only_and_cannot_raise_its_own_limits()
    {
        var admin = App.AdminFor(orgAdminOfAcme);
        var version = await PolicyVersionAsync();

        await Refused(() => admin.GetUsageSummaryAsync(new GetUsageSummaryRequest { OrgId = "small" }).ResponseAsync);
        await Refused(() => admin.SetQuotaAsync(new SetQuotaRequest { Quota = PrincipalQuota("small") }).ResponseAsync);
        await Refused(() => admin.ListQuotasAsync(new ListQuotasRequest()).ResponseAsync);
        await Refused(() => admin.CreateApiKeyAsync(new CreateApiKeyRequest { Role = ApiKeyRole.Admin }).ResponseAsync);
        await Refused(() => admin.CreateApiKeyAsync(new CreateApiKeyRequest { Role = ApiKeyRole.Caller, OrgId = "small" }).ResponseAsync);
        await Refused(() => admin.UpdateOrgAsync(new UpdateOrgRequest
        {
            Org = new Org { OrgId = "acme", Tier = "premium" },
            UpdateMask = new Google.Protobuf.WellKnownTypes.FieldMask { Paths = { "tier" } },
        }).ResponseAsync);
        await Refused(() => admin.SetQuotaAsync(new SetQuotaRequest
        {
            Quota = new Quota { OrgId = "acme", Scope = QuotaScope.Org, Metric = QuotaMetric.ReasoningTokens, Window = QuotaWindow.Day, Limit = long.MaxValue / 8 },
        }).ResponseAsync);
        await Refused(() => admin.DeleteQuotaAsync(new DeleteQuotaRequest { OrgId = "acme", QuotaId = "acme:reasoning_tokens:day" }).ResponseAsync);
        Assert.Equal(version, await PolicyVersionAsync());

        var own = await admin.SetQuotaAsync(new SetQuotaRequest { Quota = PrincipalQuota("acme") });
        var key = await admin.CreateApiKeyAsync(new CreateApiKeyRequest { Role = ApiKeyRole.Caller, OrgId = "acme" });
        Assert.True(own.Created);
        Assert.Equal("acme", key.ApiKey.OrgId);
        Assert.Equal(version + 2, await PolicyVersionAsync());
    }

    private static Quota PrincipalQuota(string org) => new()
    {
        OrgId = org, Scope = QuotaScope.Principal, Metric = QuotaMetric.Requests, Window = QuotaWindow.Minute, Limit = 10,
    };

    private async Task<long> PolicyVersionAsync()
    {
        await using var db = App.Db();
        return await Storage.PolicyRows.ReadVersionAsync(db, CancellationToken.None);
    }

    private static Task<Google.Rpc.Status> Refused(Func<Task> call) => RpcAssert.FailsAsync(StatusCode.PermissionDenied, "PERMISSION_DENIED", call);
}
