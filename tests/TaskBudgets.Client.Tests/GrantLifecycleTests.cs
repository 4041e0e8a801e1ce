using Microsoft.EntityFrameworkCore;
using TaskBudgets.Client.Tests.Infrastructure;
using TaskBudgets.Governance.Storage;
using TaskBudgets.Governance.Tests.Infrastructure;
using V1 = TaskBudgets.V1;

namespace TaskBudgets.Client.Tests;

/// <summary>Acquire, report and dispose against the real server in process, checked in the server's own state.</summary>
public sealed class GrantLifecycleTests : IAsyncLifetime
{
    private GovernanceApp app = null!;
    private SdkHost sdk = null!;

    public ValueTask InitializeAsync()
    {
        app = GovernanceApp.Create();
        sdk = SdkHost.For(app, o => o.OrgId = "acme");
        return ValueTask.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        await sdk.DisposeAsync();
        await app.DisposeAsync();
    }

    private static BudgetRequest Ask(string taskType = "support", string model = "claude-test", string? org = null) =>
        new() { OrgId = org, TaskType = taskType, Model = model };

    private async Task<long> ConsumedAsync(string counterKey) =>
        (await app.CountersAsync()).Where(c => c.CounterKey == counterKey).Sum(c => c.Consumed);

    [Fact]
    public async Task Acquire_returns_the_budget_why_it_is_so_the_anthropic_parameters_and_the_reservations()
    {
        await using var grant = await sdk.Budgets.AcquireAsync(Ask());

        Assert.Equal(BudgetDecision.Granted, grant.Decision);
        Assert.False(grant.IsFallback);
        Assert.Null(grant.FallbackCause);
        Assert.Equal(new Budget(3072, 2048, Effort.Medium, 0), grant.Budget);
        Assert.Equal(new AnthropicParameters(3072, 2048, "medium", 0, 0), grant.ProviderParameters);
        Assert.Same(grant.ProviderParameters, grant.Anthropic);
        Assert.Null(grant.OpenAi);
        Assert.Equal(BudgetReasonCode.DefaultRule, grant.Reasons[0].Code);
        Assert.StartsWith("tbg1.", grant.GrantId, StringComparison.Ordinal);
        Assert.StartsWith("sdk-", grant.RequestId, StringComparison.Ordinal);
        Assert.Equal(GovernanceApp.Start.AddMinutes(10), grant.ExpiresAt);
        Assert.Equal("standard", grant.Tier);
        Assert.Equal("*", grant.RuleTaskType);
        Assert.True(grant.PolicyVersion >= 1);
        Assert.False(grant.Replayed);
        var reasoning = grant.Quotas.Single(q => q.Metric == QuotaMetric.ReasoningTokens);
        Assert.Equal(("acme:reasoning_tokens:day", QuotaWindow.Day, QuotaScope.Org, 10_000_000L, 2048L), (reasoning.QuotaId, reasoning.Window, reasoning.Scope, reasoning.Limit, reasoning.Reserved));
        Assert.Equal(new DateTimeOffset(GovernanceApp.Start.Date.AddDays(1), TimeSpan.Zero), reasoning.WindowResetsAt);
        Assert.Null(grant.Receipt);
    }

    [Fact]
    public async Task Every_request_field_reaches_the_service()
    {
        await using var grant = await sdk.Budgets.AcquireAsync(new BudgetRequest
        {
            OrgId = "acme",
            ProjectId = "proj-1",
            PrincipalId = "user-7",
            TaskType = "agent",
            Model = "claude-test",
            TaskId = "loop-1",
            RequestId = "req-given",
            Complexity = 0.5,
            EstimatedInputTokens = 5000,
            Attempt = 2,
            PreviousStopReason = StopReason.MaxTokens,
            PreviousReasoningTokens = 4_096,
            Phase = Phase.Deep,
            Priority = Priority.High,
        });

        var sent = sdk.Wire.Of("GetBudget").Single().As<V1.GetBudgetRequest>();
        Assert.Equal(("acme", "proj-1", "user-7", "agent", "claude-test", "loop-1", "req-given"), (sent.OrgId, sent.ProjectId, sent.PrincipalId, sent.TaskType, sent.Model, sent.TaskId, sent.RequestId));
        Assert.Equal(0.5, sent.Features.Complexity);
        Assert.Equal((5000L, 2, V1.StopReason.MaxTokens, V1.Phase.Deep, V1.Priority.High), (sent.Features.EstimatedInputTokens, sent.Features.Attempt, sent.Features.PreviousStopReason, sent.Features.Phase, sent.Features.Priority));
        Assert.Equal(4_096, sent.Features.PreviousReasoningTokens);
        Assert.Equal("req-given", grant.RequestId);
        Assert.Equal(10_000, grant.Budget.TaskBudgetTokens);
        Assert.Equal(10_000, grant.Anthropic!.TaskBudgetTotal);
        Assert.Contains(grant.Quotas, q => q.Scope == QuotaScope.Principal && q.Reserved == grant.Budget.MaxOutputTokens + 5000);
    }

    [Fact]
    public async Task Each_model_family_gets_its_typed_parameters()
    {
        await using var openai = await sdk.Budgets.AcquireAsync(Ask("classification", "gpt-test"));
        await using var gemini = await sdk.Budgets.AcquireAsync(Ask("support", "gemini-test") with { Phase = Phase.Deep });

        Assert.Equal(new OpenAiParameters("low", 512 + 256), openai.OpenAi);
        Assert.Equal(ModelFamily.OpenAi, openai.ProviderParameters!.Family);
        Assert.Equal(BudgetReasonCode.TierRule, openai.Reasons[0].Code);
        Assert.Equal(new GeminiParameters(8192, 8192 + 1024), gemini.Gemini);
        Assert.Contains(gemini.Reasons, r => r.Code == BudgetReasonCode.DeepPhase);
    }

    [Fact]
    public async Task A_report_settles_the_grant_and_a_second_report_returns_the_first_receipt_without_calling_again()
    {
        await using var grant = await sdk.Budgets.AcquireAsync(Ask());

        var first = await grant.ReportAsync(Usage.FromAnthropic(300, 1500, thinkingTokens: 1000), StopReason.EndTurn, latency: TimeSpan.FromSeconds(2));
        var second = await grant.ReportAsync(Usage.FromAnthropic(999, 9999, thinkingTokens: 9000), StopReason.MaxTokens);

        Assert.Same(first, second);
        Assert.Same(first, grant.Receipt);
        Assert.True(first.Recorded);
        Assert.False(first.Duplicate);
        Assert.False(first.OverGrant);
        Assert.Equal(900 + 22_500, first.CostMicros); // 300 input at $3/M + 1500 output at $15/M
        Assert.Equal(GovernanceApp.Start, first.SettledAt);
        var reasoning = first.Quotas.Single(q => q.Metric == QuotaMetric.ReasoningTokens);
        Assert.Equal((2048L, 1000L), (reasoning.Reserved, reasoning.Used));
        Assert.Single(sdk.Wire.Of("ReportUsage"));
        Assert.Equal(grant.GrantId, sdk.Wire.Of("ReportUsage")[0].As<V1.ReportUsageRequest>().GrantId);
        await using var db = app.Db();
        var row = await db.Settlements.AsNoTracking().SingleAsync();
        Assert.Equal((300L, 1500L, 1000L, 2000L, (int)V1.StopReason.EndTurn), (row.InputTokens, row.OutputTokens, row.ReasoningTokens, row.LatencyMs, row.StopReason));
        Assert.Equal(1000, await ConsumedAsync("acme:reasoning_tokens:day"));
    }

    [Fact]
    public async Task Concurrent_reports_of_one_grant_make_one_call()
    {
        await using var grant = await sdk.Budgets.AcquireAsync(Ask());

        var receipts = await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => grant.ReportAsync(new Usage(100, 800, 500))));

        Assert.All(receipts, r => Assert.Same(receipts[0], r));
        Assert.Single(sdk.Wire.Of("ReportUsage"));
    }

    [Fact]
    public async Task A_report_whose_answer_is_lost_is_retried_with_the_same_grant_id_and_counted_once()
    {
        await using var grant = await sdk.Budgets.AcquireAsync(Ask());
        sdk.Wire.Faults = (method, nth) => method == "ReportUsage" && nth == 1 ? Fault.DropAnswer : Fault.None;

        var receipt = await grant.ReportAsync(new Usage(300, 1500, 1000), StopReason.EndTurn);

        var sent = sdk.Wire.Of("ReportUsage");
        Assert.Equal(2, sent.Count);
        Assert.All(sent, c => Assert.Equal(grant.GrantId, c.As<V1.ReportUsageRequest>().GrantId));
        Assert.True(receipt.Duplicate); // the service had settled the first attempt and said so
        Assert.Equal(1000, receipt.Quotas.Single(q => q.Metric == QuotaMetric.ReasoningTokens).Used);
        await using var db = app.Db();
        Assert.Equal(1, await db.Settlements.CountAsync());
        Assert.Equal(1000, await ConsumedAsync("acme:reasoning_tokens:day"));
        Assert.Equal(1, await ConsumedAsync("acme:requests:minute"));
    }

    [Fact]
    public async Task Disposing_an_unreported_grant_releases_it_and_frees_its_capacity()
    {
        var grants = new List<BudgetGrant>();
        for (var i = 0; i < 5; i++)
        {
            grants.Add(await sdk.Budgets.AcquireAsync(Ask(org: "capped")));
        }

        await Assert.ThrowsAsync<BudgetDeniedException>(() => sdk.Budgets.AcquireAsync(Ask(org: "capped")));
        await grants[0].DisposeAsync();
        await grants[0].DisposeAsync(); // twice is once

        await using var sixth = await sdk.Budgets.AcquireAsync(Ask(org: "capped"));

        Assert.Equal(BudgetDecision.Granted, sixth.Decision);
        var release = Assert.Single(sdk.Wire.Of("ReleaseBudget"));
        Assert.Equal(grants[0].GrantId, release.As<V1.ReleaseBudgetRequest>().GrantId);
        await using var db = app.Db();
        Assert.Equal((int)SettlementKind.Released, (await db.Settlements.AsNoTracking().SingleAsync()).Kind);
        await Assert.ThrowsAsync<ObjectDisposedException>(() => grants[0].ReportAsync(new Usage(1, 1)));
        foreach (var grant in grants.Skip(1))
        {
            await grant.DisposeAsync();
        }
    }

    [Fact]
    public async Task Disposing_a_reported_grant_releases_nothing_and_reporting_again_still_returns_the_receipt()
    {
        var grant = await sdk.Budgets.AcquireAsync(Ask());
        var receipt = await grant.ReportAsync(new Usage(10, 20, 5));

        await grant.DisposeAsync();

        Assert.Empty(sdk.Wire.Of("ReleaseBudget"));
        Assert.Same(receipt, await grant.ReportAsync(new Usage(10, 20, 5)));
    }

    [Fact]
    public async Task Dispose_never_throws_when_the_release_cannot_get_through()
    {
        var grant = await sdk.Budgets.AcquireAsync(Ask(org: "capped"));
        sdk.Wire.Faults = (method, _) => method == "ReleaseBudget" ? Fault.Unreachable : Fault.None;

        await grant.DisposeAsync();

        Assert.Single(sdk.Wire.Of("ReleaseBudget")); // best effort: one attempt
        await using var db = app.Db();
        Assert.Equal(0, await db.Settlements.CountAsync()); // still reserved, until the grant's TTL
    }

    [Fact]
    public async Task A_report_that_failed_can_be_tried_again()
    {
        await using var grant = await sdk.Budgets.AcquireAsync(Ask());
        sdk.Wire.Faults = (method, _) => method == "ReportUsage" ? Fault.Unreachable : Fault.None;

        var error = await Assert.ThrowsAsync<BudgetServiceException>(() => grant.ReportAsync(new Usage(10, 20, 5)));
        sdk.Wire.Faults = (_, _) => Fault.None;
        var receipt = await grant.ReportAsync(new Usage(10, 20, 5));

        Assert.True(error.IsUnreachable);
        Assert.Equal(3 + 1, sdk.Wire.Of("ReportUsage").Count); // 1 + 2 retries, then the second report
        Assert.True(receipt.Recorded);
        Assert.False(receipt.Duplicate);
    }

    [Fact]
    public async Task The_api_key_goes_out_as_a_bearer_token_on_every_call()
    {
        await using var keyed = SdkHost.For(app, o => o.OrgId = "acme");
        await using var keyless = SdkHost.For(app, o => { o.OrgId = "acme"; o.ApiKey = null; });

        await using (var grant = await keyed.Budgets.AcquireAsync(Ask()))
        {
        }

        var refused = await Assert.ThrowsAsync<BudgetServiceException>(() => keyless.Budgets.AcquireAsync(Ask()));

        Assert.Equal(["GetBudget", "ReleaseBudget"], keyed.Wire.Calls.Select(c => c.Method));
        Assert.All(keyed.Wire.Calls, c => Assert.Equal("Bearer " + TaskBudgets.Governance.Tests.Infrastructure.GovernanceApp.AdminKey, c.Authorization));
        Assert.Null(keyless.Wire.Of("GetBudget")[0].Authorization);
        Assert.Equal(Grpc.Core.StatusCode.Unauthenticated, refused.StatusCode);
    }

    [Fact]
    public async Task A_request_naming_no_org_uses_the_configured_one_and_without_either_is_refused()
    {
        await using var grant = await sdk.Budgets.AcquireAsync(new BudgetRequest { TaskType = "support", Model = "claude-test" });
        await using var orgless = SdkHost.For(app);

        Assert.Equal("acme", sdk.Wire.Of("GetBudget").Single().As<V1.GetBudgetRequest>().OrgId);
        await Assert.ThrowsAsync<ArgumentException>(() => orgless.Budgets.AcquireAsync(new BudgetRequest { TaskType = "support", Model = "claude-test" }));
        await Assert.ThrowsAsync<ArgumentException>(() => orgless.Budgets.AcquireAsync(new BudgetRequest { OrgId = "acme", TaskType = "", Model = "claude-test" }));
        Assert.Empty(orgless.Wire.Calls);
    }

    [Fact]
    public async Task Provider_usage_helpers_land_in_the_service_as_the_proto_defines_them()
    {
        await using var grant = await sdk.Budgets.AcquireAsync(Ask("classification", "gpt-test"));

        await grant.ReportAsync(Usage.FromOpenAi(promptTokens: 1200, completionTokens: 700, cachedTokens: 200, reasoningTokens: 400), StopReasons.FromOpenAi("length"), CallOutcome.Success);

        await using var db = app.Db();
        var row = await db.Settlements.AsNoTracking().SingleAsync();
        Assert.Equal((1000L, 200L, 0L, 700L, 400L), (row.InputTokens, row.CachedInputTokens, row.CacheWriteInputTokens, row.OutputTokens, row.ReasoningTokens));
        Assert.True(row.Truncated);
        Assert.Equal((int)V1.Outcome.Success, row.Outcome);
    }
}
