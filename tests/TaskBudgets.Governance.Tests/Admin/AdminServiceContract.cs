using System.Text.Json;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.EntityFrameworkCore;
using TaskBudgets.Governance.Tests.Api;
using TaskBudgets.Governance.Tests.Infrastructure;
using TaskBudgets.V1;

namespace TaskBudgets.Governance.Tests.Admin;

/// <summary>
/// The control plane's promises through the real gRPC surface with real keys, on a real database.
/// Run once per provider by the subclasses.
/// </summary>
public abstract class AdminServiceContract : AppTests
{
    private AdminService.AdminServiceClient Admin => App.Admin;

    /// <summary>Starts the app on the provider under test.</summary>
    protected abstract override Task<GovernanceApp> StartAsync();

    private static GetBudgetRequest Ask(string org = "acme", string taskType = "support") => new() { OrgId = org, TaskType = taskType, Model = "claude-test" };

    private static FieldMask Mask(params string[] paths) => new() { Paths = { paths } };

    private async Task<long> VersionAsync()
    {
        await using var db = App.Db();
        return await Storage.PolicyRows.ReadVersionAsync(db, CancellationToken.None);
    }

    [Fact]
    public async Task Orgs_are_created_read_listed_updated_by_field_mask_and_deleted()
    {
        var created = await Admin.CreateOrgAsync(new CreateOrgRequest { Org = new Org { OrgId = "globex", Tier = "standard", Projects = { "web", "batch" } } });
        var updated = await Admin.UpdateOrgAsync(new UpdateOrgRequest
        {
            Org = new Org { OrgId = "globex", DisplayName = "Globex Corp", Tier = "ignored-not-in-mask", Projects = { "ignored" } },
            UpdateMask = Mask("display_name"),
            Etag = created.Org.Etag,
        });
        var read = await Admin.GetOrgAsync(new GetOrgRequest { OrgId = "globex" });
        var grant = await App.Budgets.GetBudgetAsync(Ask("globex"));
        await Admin.DeleteOrgAsync(new DeleteOrgRequest { OrgId = "globex", Etag = read.Org.Etag });

        Assert.Equal("globex", created.Org.DisplayName);
        Assert.Equal("Globex Corp", updated.Org.DisplayName);
        Assert.Equal("standard", updated.Org.Tier);
        Assert.Equal(["web", "batch"], updated.Org.Projects);
        Assert.NotEqual(created.Org.Etag, updated.Org.Etag);
        Assert.Equal(updated.Org, read.Org);
        Assert.Equal("standard", grant.Tier);
        await RpcAssert.FailsAsync(StatusCode.NotFound, "ORG_NOT_FOUND", () => Admin.GetOrgAsync(new GetOrgRequest { OrgId = "globex" }).ResponseAsync);
        await RpcAssert.FailsAsync(StatusCode.NotFound, "ORG_NOT_FOUND", () => App.Budgets.GetBudgetAsync(Ask("globex")).ResponseAsync);
        await RpcAssert.FailsAsync(StatusCode.AlreadyExists, "ORG_EXISTS", () => Admin.CreateOrgAsync(new CreateOrgRequest { Org = new Org { OrgId = "acme", Tier = "standard" } }).ResponseAsync);
    }

    [Fact]
    public async Task A_stale_etag_is_aborted_and_changes_nothing()
    {
        var read = await Admin.GetOrgAsync(new GetOrgRequest { OrgId = "acme" });
        await Admin.UpdateOrgAsync(new UpdateOrgRequest { Org = new Org { OrgId = "acme", DisplayName = "First writer" }, UpdateMask = Mask("display_name"), Etag = read.Org.Etag });
        var version = await VersionAsync();

        var update = await RpcAssert.FailsAsync(StatusCode.Aborted, "ETAG_MISMATCH", () => Admin.UpdateOrgAsync(new UpdateOrgRequest
        {
            Org = new Org { OrgId = "acme", DisplayName = "Second writer" },
            UpdateMask = Mask("display_name"),
            Etag = read.Org.Etag,
        }).ResponseAsync);
        await RpcAssert.FailsAsync(StatusCode.Aborted, "ETAG_MISMATCH", () => Admin.DeleteOrgAsync(new DeleteOrgRequest { OrgId = "acme", Etag = read.Org.Etag }).ResponseAsync);
        var tier = await Admin.GetTierAsync(new GetTierRequest { Name = "standard" });
        await Admin.UpsertTierAsync(new UpsertTierRequest { Tier = AdminFixtures.Tier("standard"), Etag = tier.Tier.Etag });
        await RpcAssert.FailsAsync(StatusCode.Aborted, "ETAG_MISMATCH", () => Admin.UpsertTierAsync(new UpsertTierRequest { Tier = tier.Tier, Etag = tier.Tier.Etag }).ResponseAsync);

        Assert.Contains("stale", update.Message, StringComparison.Ordinal);
        Assert.Equal("First writer", (await Admin.GetOrgAsync(new GetOrgRequest { OrgId = "acme" })).Org.DisplayName);
        Assert.Equal(version + 1, await VersionAsync());
    }

    [Fact]
    public async Task Of_concurrent_updates_from_the_same_etag_exactly_one_wins()
    {
        var read = await Admin.GetOrgAsync(new GetOrgRequest { OrgId = "acme" });
        var version = await VersionAsync();

        var outcomes = await Task.WhenAll(Enumerable.Range(0, 8).Select(async i =>
        {
            try
            {
                await Admin.UpdateOrgAsync(new UpdateOrgRequest { Org = new Org { OrgId = "acme", DisplayName = $"writer {i}" }, UpdateMask = Mask("display_name"), Etag = read.Org.Etag });
                return StatusCode.OK;
            }
            catch (RpcException e)
            {
                return e.StatusCode;
            }
        }));

        Assert.Equal(1, outcomes.Count(o => o == StatusCode.OK));
        Assert.Equal(7, outcomes.Count(o => o == StatusCode.Aborted));
        Assert.Equal(version + 1, await VersionAsync());
        Assert.Single((await Admin.ListAuditEventsAsync(new ListAuditEventsRequest { Action = "UpdateOrg" })).Events);
    }

    [Fact]
    public async Task An_unknown_field_mask_path_is_invalid_argument()
    {
        var status = await RpcAssert.FailsAsync(StatusCode.InvalidArgument, "INVALID_ARGUMENT", () => Admin.UpdateOrgAsync(new UpdateOrgRequest
        {
            Org = new Org { OrgId = "acme", DisplayName = "x" },
            UpdateMask = Mask("display_name", "org_id"),
        }).ResponseAsync);

        RpcAssert.NamesField(status, "update_mask");
    }

    [Fact]
    public async Task Every_change_bumps_the_policy_version_that_grants_report_and_is_in_force_at_once()
    {
        var before = await App.Budgets.GetBudgetAsync(Ask());

        await Admin.UpsertTierAsync(new UpsertTierRequest { Tier = AdminFixtures.Tier("lean", min: 0, max: 256) });
        await Admin.UpdateOrgAsync(new UpdateOrgRequest { Org = new Org { OrgId = "acme", Tier = "lean" }, UpdateMask = Mask("tier") });
        var after = await App.Budgets.GetBudgetAsync(Ask());
        await Admin.SetModelAsync(new SetModelRequest { Model = AdminFixtures.Model("gpt-new") });
        var newModel = await App.Budgets.GetBudgetAsync(new GetBudgetRequest { OrgId = "acme", TaskType = "support", Model = "gpt-new" });

        Assert.Equal(before.PolicyVersion + 2, after.PolicyVersion);
        Assert.Equal("lean", after.Tier);
        Assert.Equal(0, after.Budget.ReasoningTokens);
        Assert.Equal(before.PolicyVersion + 3, newModel.PolicyVersion);
        Assert.Equal(ProviderParameters.FamilyOneofCase.Openai, newModel.ProviderParameters.FamilyCase);
    }

    [Fact]
    public async Task A_change_that_changes_nothing_bumps_nothing_and_is_not_audited()
    {
        var tier = await Admin.GetTierAsync(new GetTierRequest { Name = "standard" });
        var version = await VersionAsync();
        var events = (await Admin.ListAuditEventsAsync(new ListAuditEventsRequest())).Events.Count;

        var again = await Admin.UpsertTierAsync(new UpsertTierRequest { Tier = tier.Tier, Etag = tier.Tier.Etag });

        Assert.False(again.Created);
        Assert.Equal(tier.Tier.Etag, again.Tier.Etag);
        Assert.Equal(version, await VersionAsync());
        Assert.Equal(events, (await Admin.ListAuditEventsAsync(new ListAuditEventsRequest())).Events.Count);
    }

    [Fact]
    public async Task Every_change_is_audited_with_who_when_what_before_and_after()
    {
        var (orgAdmin, orgAdminId) = await App.CreateKeyAsync(ApiKeyRole.OrgAdmin, "acme");
        App.Time.Advance(TimeSpan.FromMinutes(1));
        await App.AdminFor(orgAdmin).UpdateOrgAsync(new UpdateOrgRequest { Org = new Org { OrgId = "acme", DisplayName = "Acme Ltd" }, UpdateMask = Mask("display_name") });
        await Admin.SetQuotaAsync(new SetQuotaRequest { Quota = new Quota { OrgId = "small", Scope = QuotaScope.Org, Metric = QuotaMetric.Requests, Window = QuotaWindow.Hour, Limit = 50 } });

        var acme = await Admin.ListAuditEventsAsync(new ListAuditEventsRequest { OrgId = "acme" });
        var byOrgAdmin = await App.AdminFor(orgAdmin).ListAuditEventsAsync(new ListAuditEventsRequest { OrgId = "acme", ActorKeyId = orgAdminId });
        var all = await Admin.ListAuditEventsAsync(new ListAuditEventsRequest());

        Assert.Equal(["UpdateOrg", "CreateApiKey"], acme.Events.Select(e => e.Action));
        var update = Assert.Single(byOrgAdmin.Events);
        Assert.Equal(orgAdminId, update.ActorKeyId);
        Assert.Equal("org", update.ResourceType);
        Assert.Equal("acme", update.ResourceId);
        Assert.Equal(GovernanceApp.Start.AddMinutes(1), update.Time.ToDateTimeOffset());
        Assert.Equal("acme", JsonDocument.Parse(update.BeforeJson).RootElement.GetProperty("display_name").GetString());
        Assert.Equal("Acme Ltd", JsonDocument.Parse(update.AfterJson).RootElement.GetProperty("display_name").GetString());
        Assert.Equal(await VersionAsync() - 1, update.PolicyVersion);
        var quota = all.Events[0];
        Assert.Equal(("SetQuota", "quota", "small:requests:hour", "bootstrap-admin", string.Empty), (quota.Action, quota.ResourceType, quota.ResourceId, quota.ActorKeyId, quota.BeforeJson));
        Assert.Equal(3, all.Events.Count);
    }

    [Fact]
    public async Task Lists_page_through_every_item_exactly_once()
    {
        for (var i = 0; i < 7; i++)
        {
            await Admin.CreateOrgAsync(new CreateOrgRequest { Org = new Org { OrgId = $"paged-{i}", Tier = "standard" } });
        }

        var orgs = new List<string>();
        var token = string.Empty;
        var pages = 0;
        do
        {
            var page = await Admin.ListOrgsAsync(new ListOrgsRequest { PageSize = 3, PageToken = token });
            Assert.InRange(page.Orgs.Count, 1, 3);
            orgs.AddRange(page.Orgs.Select(o => o.OrgId));
            token = page.NextPageToken;
            pages++;
        }
        while (token.Length > 0);
        var events = new List<long>();
        token = string.Empty;
        do
        {
            var page = await Admin.ListAuditEventsAsync(new ListAuditEventsRequest { PageSize = 2, PageToken = token, ResourceType = "org" });
            events.AddRange(page.Events.Select(e => e.EventId));
            token = page.NextPageToken;
        }
        while (token.Length > 0);

        Assert.Equal(["acme", "capped", "paged-0", "paged-1", "paged-2", "paged-3", "paged-4", "paged-5", "paged-6", "small", "soft"], orgs);
        Assert.Equal(4, pages);
        Assert.Equal(7, events.Count);
        Assert.Equal(events.OrderDescending(), events);
        var bad = await RpcAssert.FailsAsync(StatusCode.InvalidArgument, "INVALID_ARGUMENT", () => Admin.ListOrgsAsync(new ListOrgsRequest { PageToken = "not-a-token" }).ResponseAsync);
        RpcAssert.NamesField(bad, "page_token");
        var negative = await RpcAssert.FailsAsync(StatusCode.InvalidArgument, "INVALID_ARGUMENT", () => Admin.ListQuotasAsync(new ListQuotasRequest { PageSize = -1 }).ResponseAsync);
        RpcAssert.NamesField(negative, "page_size");
    }

    public static TheoryData<string, string> ImpossibleChanges() => new()
    {
        { "tier.rules[0].min_reasoning_tokens", "min above max" },
        { "tier.rules[0].max_output_tokens", "negative max output" },
        { "tier.rules[0].soft_limit_threshold", "soft threshold 1.5" },
        { "tier.rules[0].escalation_factor", "escalation 0.5" },
        { "tier.rules[1].task_type", "duplicate rule" },
        { "tier.rules", "no default rule" },
        { "tier.name", "bad tier name" },
        { "quota.limit", "negative limit" },
        { "quota.metric", "no metric" },
        { "quota.subject", "org quota with a subject" },
        { "quota.org_id", "quota without org" },
        { "model.output_micros_per_mtok", "negative price" },
        { "model.family", "no family" },
        { "org.tier", "unknown tier" },
        { "org.projects[1]", "duplicate project" },
        { "org.org_id", "bad org id" },
        { "tier.target_truncation_rate", "truncation target 1.5" },
        { "tier.rules[0].min_samples", "negative min samples" },
    };

    [Theory]
    [MemberData(nameof(ImpossibleChanges))]
    public async Task Impossible_changes_are_invalid_argument_naming_the_field_and_change_nothing(string field, string mistake)
    {
        var tier = AdminFixtures.Tier("strict");
        var rule = tier.Rules[0];
        var quota = new Quota { OrgId = "acme", Scope = QuotaScope.Org, Metric = QuotaMetric.OutputTokens, Window = QuotaWindow.Day, Limit = 10 };
        var model = AdminFixtures.Model("m");
        var org = new Org { OrgId = "newco", Tier = "standard", Projects = { "a", "b" } };
        Func<Task> call = mistake switch
        {
            "negative limit" or "no metric" or "org quota with a subject" or "quota without org" => () => Admin.SetQuotaAsync(new SetQuotaRequest { Quota = quota }).ResponseAsync,
            "negative price" or "no family" => () => Admin.SetModelAsync(new SetModelRequest { Model = model }).ResponseAsync,
            "unknown tier" or "duplicate project" or "bad org id" => () => Admin.CreateOrgAsync(new CreateOrgRequest { Org = org }).ResponseAsync,
            _ => () => Admin.UpsertTierAsync(new UpsertTierRequest { Tier = tier }).ResponseAsync,
        };
        switch (mistake)
        {
            case "min above max": rule.MinReasoningTokens = 8000; break;
            case "negative max output": rule.MaxOutputTokens = -1; break;
            case "soft threshold 1.5": rule.SoftLimitThreshold = 1.5; break;
            case "escalation 0.5": rule.EscalationFactor = 0.5; break;
            case "duplicate rule": tier.Rules.Add(rule.Clone()); break;
            case "no default rule": rule.TaskType = "research"; break;
            case "bad tier name": tier.Name = "no spaces please"; break;
            case "truncation target 1.5": tier.TargetTruncationRate = 1.5; break;
            case "negative min samples": rule.MinSamples = -3; break;
            case "negative limit": quota.Limit = -5; break;
            case "no metric": quota.Metric = QuotaMetric.Unspecified; break;
            case "org quota with a subject": quota.Subject = "someone"; break;
            case "quota without org": quota.OrgId = string.Empty; break;
            case "negative price": model.OutputMicrosPerMtok = -1; break;
            case "no family": model.Family = ModelFamily.Unspecified; break;
            case "unknown tier": org.Tier = "platinum"; break;
            case "duplicate project": org.Projects[1] = "a"; break;
            case "bad org id": org.OrgId = "new co"; break;
        }

        var version = await VersionAsync();

        var status = await RpcAssert.FailsAsync(StatusCode.InvalidArgument, "INVALID_ARGUMENT", call);

        RpcAssert.NamesField(status, field);
        Assert.Equal(version, await VersionAsync());
        Assert.Empty((await Admin.ListAuditEventsAsync(new ListAuditEventsRequest())).Events);
    }

    [Fact]
    public async Task A_tiers_adaptive_rules_and_truncation_target_are_stored_and_read_back_with_defaults_for_unset_ones()
    {
        var tier = AdminFixtures.Tier("learning");
        tier.TargetTruncationRate = 0.05;
        tier.Rules[0].Adaptive = true;
        tier.Rules[0].MinSamples = 75;
        var plain = AdminFixtures.Tier("plain");

        await Admin.UpsertTierAsync(new UpsertTierRequest { Tier = tier });
        await Admin.UpsertTierAsync(new UpsertTierRequest { Tier = plain });
        var learning = (await Admin.GetTierAsync(new GetTierRequest { Name = "learning" })).Tier;
        var defaults = (await Admin.GetTierAsync(new GetTierRequest { Name = "plain" })).Tier;

        Assert.Equal(0.05, learning.TargetTruncationRate);
        Assert.True(learning.Rules[0].Adaptive);
        Assert.Equal(75, learning.Rules[0].MinSamples);
        Assert.Equal(0.02, defaults.TargetTruncationRate);
        Assert.False(defaults.Rules[0].Adaptive);
        Assert.Equal(200, defaults.Rules[0].MinSamples);
    }

    [Fact]
    public async Task A_tier_still_used_by_an_org_cannot_be_deleted()
    {
        var version = await VersionAsync();

        var status = await RpcAssert.FailsAsync(StatusCode.FailedPrecondition, "TIER_IN_USE", () => Admin.DeleteTierAsync(new DeleteTierRequest { Name = "standard" }).ResponseAsync);

        Assert.Contains("'acme'", status.Message, StringComparison.Ordinal);
        Assert.Equal(version, await VersionAsync());
        Assert.Equal("standard", (await Admin.GetTierAsync(new GetTierRequest { Name = "standard" })).Tier.Name);
        await Admin.UpsertTierAsync(new UpsertTierRequest { Tier = AdminFixtures.Tier("unused") });
        await Admin.DeleteTierAsync(new DeleteTierRequest { Name = "unused" });
        await RpcAssert.FailsAsync(StatusCode.NotFound, "TIER_NOT_FOUND", () => Admin.GetTierAsync(new GetTierRequest { Name = "unused" }).ResponseAsync);
    }

    [Fact]
    public async Task A_quota_set_through_the_api_caps_the_next_grant_and_its_identity_is_fixed()
    {
        var set = await Admin.SetQuotaAsync(new SetQuotaRequest
        {
            Quota = new Quota { OrgId = "acme", Scope = QuotaScope.Project, Subject = "batch", Metric = QuotaMetric.ReasoningTokens, Window = QuotaWindow.Hour, Limit = 1500 },
        });
        var ask = Ask();
        ask.ProjectId = "batch";

        var grant = await App.Budgets.GetBudgetAsync(ask);
        var listed = await Admin.ListQuotasAsync(new ListQuotasRequest { OrgId = "acme" });

        Assert.True(set.Created);
        Assert.Equal("acme:project:batch:reasoning_tokens:hour", set.Quota.QuotaId);
        Assert.Equal(Decision.Reduced, grant.Decision);
        Assert.Equal(1500, grant.Budget.ReasoningTokens);
        Assert.Contains(listed.Quotas, q => q.QuotaId == set.Quota.QuotaId);
        var changed = set.Quota.Clone();
        changed.Window = QuotaWindow.Day;
        await RpcAssert.FailsAsync(StatusCode.FailedPrecondition, "QUOTA_IDENTITY_FIXED", () => Admin.SetQuotaAsync(new SetQuotaRequest { Quota = changed }).ResponseAsync);
        var raised = set.Quota.Clone();
        raised.Limit = 9000;
        Assert.False((await Admin.SetQuotaAsync(new SetQuotaRequest { Quota = raised, Etag = set.Quota.Etag })).Created);
        await Admin.DeleteQuotaAsync(new DeleteQuotaRequest { OrgId = "acme", QuotaId = set.Quota.QuotaId });
        await RpcAssert.FailsAsync(StatusCode.NotFound, "QUOTA_NOT_FOUND", () => Admin.GetQuotaAsync(new GetQuotaRequest { OrgId = "acme", QuotaId = set.Quota.QuotaId }).ResponseAsync);
    }

    [Fact]
    public async Task An_org_with_declared_projects_takes_calls_for_those_projects_only()
    {
        var created = await Admin.CreateOrgAsync(new CreateOrgRequest { Org = new Org { OrgId = "initech", Tier = "standard", Projects = { "web" } } });
        var web = Ask("initech");
        web.ProjectId = "web";
        var typo = Ask("initech");
        typo.ProjectId = "wbe";
        var unreported = new ReportUsageRequest
        {
            OrgId = "initech",
            ProjectId = "wbe",
            TaskType = "support",
            Model = "claude-test",
            ReportId = "typo-report",
            Usage = new UsageTokens { InputTokens = 10, OutputTokens = 20 },
            StopReason = StopReason.EndTurn,
        };

        var forProject = await App.Budgets.GetBudgetAsync(web);
        var forOrg = await App.Budgets.GetBudgetAsync(Ask("initech"));
        var refused = await RpcAssert.FailsAsync(StatusCode.InvalidArgument, "UNKNOWN_PROJECT", () => App.Budgets.GetBudgetAsync(typo).ResponseAsync);
        var refusedReport = await RpcAssert.FailsAsync(StatusCode.InvalidArgument, "UNKNOWN_PROJECT", () => App.Budgets.ReportUsageAsync(unreported).ResponseAsync);
        var settledBefore = await SettlementCountAsync();
        await Admin.UpdateOrgAsync(new UpdateOrgRequest { Org = new Org { OrgId = "initech", Projects = { "web", "wbe" } }, UpdateMask = Mask("projects"), Etag = created.Org.Etag });
        var afterUpdate = await App.Budgets.GetBudgetAsync(typo);
        await App.Budgets.ReportUsageAsync(unreported);

        Assert.Equal(Decision.Granted, forProject.Decision);
        Assert.Equal(Decision.Granted, forOrg.Decision);
        RpcAssert.NamesField(refused, "project_id");
        RpcAssert.NamesField(refusedReport, "project_id");
        Assert.Contains("'wbe'", refused.Message, StringComparison.Ordinal);
        Assert.Equal(0, settledBefore);
        Assert.Equal(Decision.Granted, afterUpdate.Decision);
        Assert.Equal(1, await SettlementCountAsync());
    }

    private async Task<int> SettlementCountAsync()
    {
        await using var db = App.Db();
        return await db.Settlements.CountAsync(s => s.OrgId == "initech");
    }

    [Fact]
    public async Task Models_are_set_and_listed_with_their_prices()
    {
        var model = AdminFixtures.Model("o-test");
        model.CachedInputMicrosPerMtok = 100_000;

        var set = await Admin.SetModelAsync(new SetModelRequest { Model = model });
        var listed = await Admin.ListModelsAsync(new ListModelsRequest());

        Assert.True(set.Created);
        var stored = Assert.Single(listed.Models, m => m.Name == "o-test");
        Assert.Equal((1_000_000, 100_000, 1_000_000, 4_000_000), (stored.InputMicrosPerMtok, stored.CachedInputMicrosPerMtok, stored.CacheWriteMicrosPerMtok, stored.OutputMicrosPerMtok));
        Assert.Equal(ThinkingMode.Effort, stored.Thinking);
        Assert.Equal(4, listed.Models.Count);
    }

    [Fact]
    public async Task SimulateBudget_answers_what_GetBudget_would_and_reserves_nothing()
    {
        var ask = Ask(org: "capped");
        var simulated = new List<SimulateBudgetResponse>();
        for (var i = 0; i < 20; i++)
        {
            simulated.Add(await Admin.SimulateBudgetAsync(new SimulateBudgetRequest { BudgetRequest = ask }));
        }

        var counters = await App.CountersAsync();
        var grants = new List<GetBudgetResponse>();
        for (var i = 0; i < 5; i++)
        {
            grants.Add(await App.Budgets.GetBudgetAsync(ask));
        }

        var whenFull = await Admin.SimulateBudgetAsync(new SimulateBudgetRequest { BudgetRequest = ask });

        Assert.All(simulated, s => Assert.False(s.Denied));
        Assert.Equal(grants[0].Budget, simulated[0].Grant.Budget);
        Assert.Equal(grants[0].Reasons, simulated[0].Grant.Reasons);
        Assert.Equal(grants[0].PolicyVersion, simulated[0].Grant.PolicyVersion);
        Assert.Equal(string.Empty, simulated[0].Grant.GrantId);
        Assert.Equal(4, simulated[0].Grant.Quotas.Single().Remaining);
        Assert.All(counters, c => Assert.Equal((0, 0), (c.Consumed, c.Leased)));
        Assert.True(whenFull.Denied);
        Assert.Equal("QUOTA_EXHAUSTED", whenFull.DenialReason);
        Assert.Equal("capped:requests:minute", whenFull.LimitingQuotaId);
        var bad = await RpcAssert.FailsAsync(StatusCode.InvalidArgument, "INVALID_ARGUMENT", () => Admin.SimulateBudgetAsync(new SimulateBudgetRequest { BudgetRequest = new GetBudgetRequest { OrgId = "capped" } }).ResponseAsync);
        RpcAssert.NamesField(bad, "budget_request.task_type");
    }

    [Fact]
    public async Task SimulateBudget_gives_an_agentic_loop_what_it_has_left_and_starts_no_loop()
    {
        GetBudgetRequest Step(string task)
        {
            var ask = Ask(taskType: "agent");
            ask.TaskId = task;
            return ask;
        }

        var first = await App.Budgets.GetBudgetAsync(Step("sim-loop"));
        await App.Budgets.ReportUsageAsync(new ReportUsageRequest
        {
            GrantId = first.GrantId,
            Usage = new UsageTokens { InputTokens = 100, OutputTokens = 3000, ReasoningTokens = 2000 },
            StopReason = StopReason.EndTurn,
        });

        var running = await Admin.SimulateBudgetAsync(new SimulateBudgetRequest { BudgetRequest = Step("sim-loop") });
        var unstarted = await Admin.SimulateBudgetAsync(new SimulateBudgetRequest { BudgetRequest = Step("sim-never") });
        var next = await App.Budgets.GetBudgetAsync(Step("sim-loop"));

        Assert.Equal(7_000, running.Grant.Budget.TaskBudgetTokens);
        Assert.Equal(next.Budget, running.Grant.Budget);
        Assert.Equal(10_000, running.Grant.ProviderParameters.Anthropic.TaskBudgetTotal);
        Assert.Equal(10_000, unstarted.Grant.Budget.TaskBudgetTokens);
        await using var db = App.Db();
        Assert.False(await db.TaskBudgets.AnyAsync(t => t.TaskId == "sim-never"));
    }

    [Fact]
    public async Task Usage_counts_flushed_again_add_to_the_stored_rows_of_every_dimension()
    {
        async Task<long> GrantAsync(string principal, string taskType)
        {
            var ask = Ask("acme", taskType);
            ask.PrincipalId = principal;
            return (await App.Budgets.GetBudgetAsync(ask)).Budget.ReasoningTokens;
        }

        async Task<(long Grants, long Reasoning)> CountedAsync(string principal, string taskType)
        {
            var summary = await Admin.GetUsageSummaryAsync(new GetUsageSummaryRequest { OrgId = "acme", PrincipalId = principal, TaskType = taskType });
            return (summary.Grants, summary.Granted.ReasoningTokens);
        }

        // The first flush (inside the summary) stores two rows; the second adds to both and stores a third.
        var p1Support = await GrantAsync("flush-p1", "support") + await GrantAsync("flush-p1", "support");
        var p2Research = await GrantAsync("flush-p2", "research");
        Assert.Equal((2, p1Support), await CountedAsync("flush-p1", "support"));

        p1Support += await GrantAsync("flush-p1", "support");
        p2Research += await GrantAsync("flush-p2", "research") + await GrantAsync("flush-p2", "research");
        var p1Research = await GrantAsync("flush-p1", "research");

        Assert.Equal((3, p1Support), await CountedAsync("flush-p1", "support"));
        Assert.Equal((3, p2Research), await CountedAsync("flush-p2", "research"));
        Assert.Equal((1, p1Research), await CountedAsync("flush-p1", "research"));
        await using var db = App.Db();
        Assert.Equal(3, await db.UsageCounters.CountAsync(r => r.PrincipalId.StartsWith("flush-")));
    }

    [Fact]
    public async Task The_usage_summary_counts_grants_denials_usage_truncations_and_over_grants()
    {
        var grants = new List<GetBudgetResponse>();
        for (var i = 0; i < 5; i++)
        {
            var ask = Ask("capped");
            ask.RequestId = $"summary-{i}";
            grants.Add(await App.Budgets.GetBudgetAsync(ask));
        }

        // A retry with the same request id replays its grant: it is not a sixth grant.
        var retry = Ask("capped");
        retry.RequestId = "summary-0";
        Assert.Equal(grants[0].GrantId, (await App.Budgets.GetBudgetAsync(retry)).GrantId);
        await RpcAssert.FailsAsync(StatusCode.ResourceExhausted, "QUOTA_EXHAUSTED", () => App.Budgets.GetBudgetAsync(Ask("capped")).ResponseAsync);
        await App.Budgets.ReportUsageAsync(new ReportUsageRequest { GrantId = grants[0].GrantId, Usage = new UsageTokens { InputTokens = 100, OutputTokens = 1000, ReasoningTokens = 800 }, StopReason = StopReason.EndTurn });
        await App.Budgets.ReportUsageAsync(new ReportUsageRequest { GrantId = grants[1].GrantId, Usage = new UsageTokens { InputTokens = 100, OutputTokens = 9000, ReasoningTokens = 8500 }, StopReason = StopReason.MaxTokens });
        await App.Budgets.ReleaseBudgetAsync(new ReleaseBudgetRequest { GrantId = grants[2].GrantId });

        var summary = await Admin.GetUsageSummaryAsync(new GetUsageSummaryRequest { OrgId = "capped" });
        var otherTask = await Admin.GetUsageSummaryAsync(new GetUsageSummaryRequest { OrgId = "capped", TaskType = "research" });

        Assert.Equal((5, 0, 1), (summary.Grants, summary.ReducedGrants, summary.Denials));
        Assert.Equal(5 * 2048, summary.Granted.ReasoningTokens);
        Assert.Equal(5 * 3072, summary.Granted.OutputTokens);
        Assert.Equal((2, 1), (summary.Reports, summary.Releases));
        Assert.Equal((200, 10_000, 9300), (summary.Used.InputTokens, summary.Used.OutputTokens, summary.Used.ReasoningTokens));
        Assert.Equal((1, 1, 0), (summary.Truncations, summary.OverGrantCalls, summary.LateReports));
        Assert.Equal((100 * 3) + (1000 * 15) + (100 * 3) + (9000 * 15), summary.Used.CostMicros); // $3/M in, $15/M out
        var quota = Assert.Single(summary.Quotas);
        Assert.Equal((5, 2, 2, 1), (quota.Limit, quota.Used, quota.Reserved, quota.Remaining));
        Assert.Equal((0, 0, 0), (otherTask.Grants, otherTask.Denials, otherTask.Reports));
    }
}

/// <summary>The control plane on the embedded default, SQLite.</summary>
public sealed class SqliteAdminServiceTests : AdminServiceContract
{
    protected override Task<GovernanceApp> StartAsync() => Task.FromResult(GovernanceApp.Create());
}

/// <summary>The same contract on a real PostgreSQL server.</summary>
public sealed class PostgreSqlAdminServiceTests(PostgresServer postgres) : AdminServiceContract
{
    protected override async Task<GovernanceApp> StartAsync() => GovernanceApp.Create(await postgres.CreateDatabaseAsync());
}
