using Google.Protobuf.WellKnownTypes;
using Google.Rpc;
using Grpc.Core;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using TaskBudgets.Governance.Storage;
using TaskBudgets.Governance.Tests.Infrastructure;
using TaskBudgets.V1;

namespace TaskBudgets.Governance.Tests.Api;

/// <summary>
/// The data plane's promises, proven through the real gRPC surface on a real database.
/// Run once per provider by the subclasses.
/// </summary>
public abstract class BudgetServiceContract : AppTests
{
    protected BudgetService.BudgetServiceClient Budgets => App.Budgets;

    /// <summary>Starts the app on the provider under test.</summary>
    protected abstract override Task<GovernanceApp> StartAsync();

    private static GetBudgetRequest Ask(string org = "acme", string taskType = "support", string model = "claude-test", TaskFeatures? features = null) => new()
    {
        OrgId = org,
        TaskType = taskType,
        Model = model,
        Features = features ?? new TaskFeatures(),
    };

    private static ReportUsageRequest Report(string grantId, long output = 1500, long reasoning = 1000, StopReason stop = StopReason.EndTurn) => new()
    {
        GrantId = grantId,
        Usage = new UsageTokens { InputTokens = 300, OutputTokens = output, ReasoningTokens = reasoning },
        StopReason = stop,
        Outcome = Outcome.Success,
        Latency = Duration.FromTimeSpan(TimeSpan.FromSeconds(2)),
    };

    private async Task<long> SettlementCountAsync()
    {
        await using var db = App.Db();
        return await db.Settlements.LongCountAsync();
    }

    private async Task<long> ConsumedAsync(string counterKey)
    {
        var counters = await App.CountersAsync();
        return counters.Where(c => c.CounterKey == counterKey).Sum(c => c.Consumed);
    }

    [Fact]
    public async Task GetBudget_grants_the_rules_budget_with_reasons_provider_parameters_and_reservations()
    {
        var grant = await Budgets.GetBudgetAsync(Ask());

        Assert.Equal(Decision.Granted, grant.Decision);
        Assert.Equal(2048, grant.Budget.ReasoningTokens);
        Assert.Equal(3072, grant.Budget.MaxOutputTokens);
        Assert.Equal(Effort.Medium, grant.Budget.Effort);
        Assert.Equal(ProviderParameters.FamilyOneofCase.Anthropic, grant.ProviderParameters.FamilyCase);
        Assert.Equal(3072, grant.ProviderParameters.Anthropic.MaxTokens);
        Assert.Equal(2048, grant.ProviderParameters.Anthropic.ThinkingBudgetTokens);
        Assert.Equal("medium", grant.ProviderParameters.Anthropic.Effort);
        Assert.Equal(ReasonCode.DefaultRule, grant.Reasons[0].Code);
        Assert.Equal("standard", grant.Tier);
        Assert.Equal("*", grant.RuleTaskType);
        Assert.True(grant.PolicyVersion >= 1);
        Assert.StartsWith("tbg1.", grant.GrantId, StringComparison.Ordinal);
        Assert.Equal(GovernanceApp.Start.AddSeconds(10), grant.ExpiresAt.ToDateTimeOffset()); // Grants:Ttl of these tests
        Assert.False(grant.Replayed);

        // No principal: the per-principal quota does not apply.
        Assert.Equal(2, grant.Quotas.Count);
        var reasoning = grant.Quotas.Single(q => q.Metric == QuotaMetric.ReasoningTokens);
        Assert.Equal(2048, reasoning.Reserved);
        Assert.Equal(10_000_000 - 2048, reasoning.Remaining);
        Assert.Equal(QuotaWindow.Day, reasoning.Window);
        Assert.Equal(GovernanceApp.Start.Date.AddDays(1), reasoning.WindowResetsAt.ToDateTime());
        Assert.Equal(1, grant.Quotas.Single(q => q.Metric == QuotaMetric.Requests).Reserved);
    }

    [Fact]
    public async Task A_principal_brings_its_own_quota_into_play()
    {
        var ask = Ask(features: new TaskFeatures { EstimatedInputTokens = 5000 });
        ask.PrincipalId = "user-7";

        var grant = await Budgets.GetBudgetAsync(ask);

        var total = grant.Quotas.Single(q => q.Scope == QuotaScope.Principal);
        Assert.Equal(QuotaMetric.TotalTokens, total.Metric);
        Assert.Equal(3072 + 5000, total.Reserved);
    }

    [Fact]
    public async Task Each_model_family_gets_its_own_parameters()
    {
        var openai = await Budgets.GetBudgetAsync(Ask(model: "gpt-test", taskType: "classification"));
        var gemini = await Budgets.GetBudgetAsync(Ask(model: "gemini-test", features: new TaskFeatures { Phase = Phase.Deep }));

        Assert.Equal("low", openai.ProviderParameters.Openai.ReasoningEffort);
        Assert.Equal(512 + 256, openai.ProviderParameters.Openai.MaxCompletionTokens);
        Assert.Equal(ReasonCode.TierRule, openai.Reasons[0].Code);
        Assert.Equal(8192, gemini.ProviderParameters.Gemini.ThinkingBudget);
        Assert.Equal(8192 + 1024, gemini.ProviderParameters.Gemini.MaxOutputTokens);
        Assert.Contains(gemini.Reasons, r => r.Code == ReasonCode.DeepPhase);
    }

    [Fact]
    public async Task A_retry_after_truncation_gets_an_escalated_budget()
    {
        var grant = await Budgets.GetBudgetAsync(Ask(features: new TaskFeatures { Attempt = 2, PreviousStopReason = StopReason.MaxTokens }));

        Assert.Equal(4096, grant.Budget.ReasoningTokens);
        Assert.Contains(grant.Reasons, r => r.Code == ReasonCode.Escalated);
    }

    [Fact]
    public async Task An_agentic_loop_gets_what_its_task_budget_has_left()
    {
        GetBudgetRequest Step(string task)
        {
            var ask = Ask(taskType: "agent");
            ask.TaskId = task;
            return ask;
        }

        var first = await Budgets.GetBudgetAsync(Step("loop-1"));
        await Budgets.ReportUsageAsync(Report(first.GrantId, output: 3000, reasoning: 2000));
        var second = await Budgets.GetBudgetAsync(Step("loop-1"));
        await Budgets.ReportUsageAsync(Report(second.GrantId, output: 2500, reasoning: 1000));
        await Budgets.ReportUsageAsync(Report(second.GrantId, output: 2500, reasoning: 1000));
        var third = await Budgets.GetBudgetAsync(Step("loop-1"));
        var other = await Budgets.GetBudgetAsync(Step("loop-2"));

        Assert.Equal(10_000, first.Budget.TaskBudgetTokens);
        Assert.Equal(7_000, second.Budget.TaskBudgetTokens);
        Assert.Equal(4_500, third.Budget.TaskBudgetTokens);
        Assert.Equal(10_000, third.ProviderParameters.Anthropic.TaskBudgetTotal);
        Assert.Equal(4_500, third.ProviderParameters.Anthropic.TaskBudgetRemaining);
        Assert.Contains(third.Reasons, r => r.Code == ReasonCode.TaskBudget);
        Assert.Equal(10_000, other.Budget.TaskBudgetTokens);
        await using var db = App.Db();
        Assert.Equal(5_500, (await db.TaskBudgets.SingleAsync(t => t.TaskId == "loop-1")).Used);
    }

    [Fact]
    public async Task Finished_loops_do_not_stay_in_memory_and_their_use_survives_the_sweep()
    {
        GetBudgetRequest Step(string task)
        {
            var ask = Ask(taskType: "agent");
            ask.TaskId = task;
            return ask;
        }

        var ledger = App.Services.GetRequiredService<Governance.Grants.TaskBudgetLedger>();
        var first = await Budgets.GetBudgetAsync(Step("sweep-0"));
        await Budgets.ReportUsageAsync(Report(first.GrantId, output: 3000, reasoning: 2000));
        for (var i = 1; i < 20; i++)
        {
            await Budgets.GetBudgetAsync(Step($"sweep-{i}"));
        }

        var cachedWhileRunning = ledger.CachedCount;
        App.Time.Advance(TimeSpan.FromMinutes(5));
        await Budgets.GetBudgetAsync(Step("sweep-new"));
        var cachedAfterSweep = ledger.CachedCount;
        var resumed = await Budgets.GetBudgetAsync(Step("sweep-0"));

        Assert.True(cachedWhileRunning >= 20, $"{cachedWhileRunning} loops cached");
        Assert.Equal(1, cachedAfterSweep);
        Assert.Equal(7_000, resumed.Budget.TaskBudgetTokens);
    }

    [Fact]
    public async Task ReportUsage_settles_once_however_often_it_is_retried()
    {
        var grant = await Budgets.GetBudgetAsync(Ask());
        var report = Report(grant.GrantId);

        var answers = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Budgets.ReportUsageAsync(report).ResponseAsync));
        var again = await Budgets.ReportUsageAsync(report);

        Assert.Single(answers, a => !a.Duplicate);
        Assert.True(again.Duplicate);
        Assert.All(answers.Append(again), a =>
        {
            Assert.Equal(answers[0].SettledAt, a.SettledAt);
            Assert.Equal(1000, a.Quotas.Single(q => q.Metric == QuotaMetric.ReasoningTokens).Used);
            Assert.Equal(2048, a.Quotas.Single(q => q.Metric == QuotaMetric.ReasoningTokens).Reserved);
        });
        Assert.Equal(1, await SettlementCountAsync());
        Assert.Equal(1000, await ConsumedAsync("acme:reasoning_tokens:day"));
        Assert.Equal(1, await ConsumedAsync("acme:requests:minute"));
    }

    [Fact]
    public async Task An_acknowledged_report_is_already_committed()
    {
        var grant = await Budgets.GetBudgetAsync(Ask());

        var settled = await Budgets.ReportUsageAsync(Report(grant.GrantId, output: 2000, reasoning: 1500));

        // A fresh connection sees it: the answer came after the commit, not before.
        await using var db = App.Db();
        var row = await db.Settlements.AsNoTracking().SingleAsync();
        Assert.Equal(1500, row.ReasoningTokens);
        Assert.Equal(2000, row.OutputTokens);
        Assert.Equal((int)SettlementKind.Reported, row.Kind);
        Assert.Equal(settled.CostMicros, row.CostMicros);
        Assert.Equal(900 + 30_000, settled.CostMicros); // 300 input at $3/M + 2000 output at $15/M
    }

    [Fact]
    public async Task The_unused_part_of_a_grant_goes_back_when_it_is_settled()
    {
        var first = await Budgets.GetBudgetAsync(Ask(org: "small"));
        await Budgets.ReportUsageAsync(Report(first.GrantId, output: 800, reasoning: 500));

        var second = await Budgets.GetBudgetAsync(Ask(org: "small"));

        Assert.Equal(20_000 - 500 - 2048, second.Quotas.Single().Remaining);
    }

    [Fact]
    public async Task Over_grant_usage_is_counted_and_flagged()
    {
        var grant = await Budgets.GetBudgetAsync(Ask());

        var settled = await Budgets.ReportUsageAsync(Report(grant.GrantId, output: 9000, reasoning: 8000, stop: StopReason.MaxTokens));

        Assert.True(settled.OverGrant);
        Assert.True(settled.Truncated);
        Assert.False(settled.Late);
        Assert.Equal(8000, await ConsumedAsync("acme:reasoning_tokens:day"));
        await using var db = App.Db();
        Assert.True((await db.Settlements.SingleAsync()).OverGrant);
    }

    [Fact]
    public async Task A_denial_is_resource_exhausted_with_quota_failure_retry_info_and_changes_nothing()
    {
        var deep = new TaskFeatures { Phase = Phase.Deep };
        var one = await Budgets.GetBudgetAsync(Ask(org: "small", features: deep));
        var two = await Budgets.GetBudgetAsync(Ask(org: "small", features: deep));
        var three = await Budgets.GetBudgetAsync(Ask(org: "small", features: deep));
        var before = await App.CountersAsync();

        var status = await RpcAssert.FailsAsync(StatusCode.ResourceExhausted, "QUOTA_EXHAUSTED", () => Budgets.GetBudgetAsync(Ask(org: "small", features: deep)).ResponseAsync);

        Assert.Equal(8192, one.Budget.ReasoningTokens);
        Assert.Equal(8192, two.Budget.ReasoningTokens);
        Assert.Equal(Decision.Reduced, three.Decision);
        Assert.Equal(20_000 - 8192 - 8192, three.Budget.ReasoningTokens);
        Assert.Contains(three.Reasons, r => r.Code == ReasonCode.QuotaCap);
        var failure = status.GetDetail<QuotaFailure>();
        Assert.Equal("org:small", failure.Violations.Single().Subject);
        Assert.Contains("small:reasoning_tokens:day", failure.Violations.Single().Description, StringComparison.Ordinal);
        Assert.Equal(TimeSpan.FromHours(12), status.GetDetail<RetryInfo>().RetryDelay.ToTimeSpan());
        Assert.Equal(
            before.Select(c => (c.CounterKey, c.Consumed, c.Leased)),
            (await App.CountersAsync()).Select(c => (c.CounterKey, c.Consumed, c.Leased)));
        Assert.True(before.Sum(c => c.Consumed + c.Leased) <= 20_000);
    }

    [Fact]
    public async Task Concurrent_grants_never_jointly_pass_a_limit()
    {
        var attempts = Enumerable.Range(0, 120).Select(async _ =>
        {
            try
            {
                return (await Budgets.GetBudgetAsync(Ask(org: "small"))).Budget.ReasoningTokens;
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.ResourceExhausted)
            {
                return 0;
            }
        });

        var granted = await Task.WhenAll(attempts);

        Assert.True(granted.Sum() <= 20_000, $"granted {granted.Sum()} of 20000");
        Assert.True(granted.Count(g => g > 0) >= 9, "capacity near the limit must not be stranded");
        var counter = Assert.Single(await App.CountersAsync());
        Assert.True(counter.Consumed + counter.Leased <= 20_000);
    }

    [Fact]
    public async Task Concurrent_calls_on_a_request_quota_get_exactly_its_limit()
    {
        var results = await Task.WhenAll(Enumerable.Range(0, 40).Select(async _ =>
        {
            try
            {
                await Budgets.GetBudgetAsync(Ask(org: "capped"));
                return true;
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.ResourceExhausted)
            {
                return false;
            }
        }));

        Assert.Equal(5, results.Count(ok => ok));
    }

    [Fact]
    public async Task The_same_request_id_returns_the_same_grant_and_reserves_once()
    {
        var ask = Ask(org: "capped");
        ask.RequestId = "req-1";

        var first = await Budgets.GetBudgetAsync(ask);
        var retries = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => Budgets.GetBudgetAsync(ask).ResponseAsync));

        Assert.All(retries, r => Assert.Equal(first.GrantId, r.GrantId));
        Assert.All(retries, r => Assert.True(r.Replayed));
        for (var i = 0; i < 4; i++)
        {
            await Budgets.GetBudgetAsync(Ask(org: "capped"));
        }

        await RpcAssert.FailsAsync(StatusCode.ResourceExhausted, "QUOTA_EXHAUSTED", () => Budgets.GetBudgetAsync(Ask(org: "capped")).ResponseAsync);
    }

    [Fact]
    public async Task An_unreported_grant_expires_gives_its_capacity_back_and_its_late_report_still_counts()
    {
        var grants = new List<GetBudgetResponse>();
        for (var i = 0; i < 5; i++)
        {
            grants.Add(await Budgets.GetBudgetAsync(Ask(org: "capped")));
        }

        await RpcAssert.FailsAsync(StatusCode.ResourceExhausted, "QUOTA_EXHAUSTED", () => Budgets.GetBudgetAsync(Ask(org: "capped")).ResponseAsync);
        App.Time.Advance(TimeSpan.FromSeconds(20));

        // Still inside the same minute, but past a 10 s TTL: configured for this test class below.
        var after = await Budgets.GetBudgetAsync(Ask(org: "capped"));
        var late = await Budgets.ReportUsageAsync(Report(grants[0].GrantId));

        Assert.Equal(Decision.Granted, after.Decision);
        Assert.True(late.Late);
        Assert.False(late.Duplicate);
        Assert.Equal(1, await ConsumedAsync("capped:requests:minute"));
    }

    [Fact]
    public async Task A_released_grant_frees_its_capacity_and_a_later_report_is_counted_late()
    {
        var grants = new List<GetBudgetResponse>();
        for (var i = 0; i < 5; i++)
        {
            grants.Add(await Budgets.GetBudgetAsync(Ask(org: "capped")));
        }

        var released = await Budgets.ReleaseBudgetAsync(new ReleaseBudgetRequest { GrantId = grants[0].GrantId });
        var again = await Budgets.ReleaseBudgetAsync(new ReleaseBudgetRequest { GrantId = grants[0].GrantId });
        var sixth = await Budgets.GetBudgetAsync(Ask(org: "capped"));
        var report = await Budgets.ReportUsageAsync(Report(grants[0].GrantId));
        var duplicate = await Budgets.ReportUsageAsync(Report(grants[0].GrantId));

        Assert.False(released.AlreadySettled);
        Assert.True(again.AlreadySettled);
        Assert.Equal(Decision.Granted, sixth.Decision);
        Assert.True(report.Late);
        Assert.False(report.Duplicate);
        Assert.True(duplicate.Duplicate);
        Assert.Equal(1, await ConsumedAsync("capped:requests:minute"));
        var settledAgain = await Budgets.ReleaseBudgetAsync(new ReleaseBudgetRequest { GrantId = grants[0].GrantId });
        Assert.True(settledAgain.AlreadySettled);
    }

    [Fact]
    public async Task A_window_rollover_neither_loses_nor_double_counts()
    {
        App.Time.Advance(TimeSpan.FromSeconds(30));
        var old = new List<GetBudgetResponse>();
        for (var i = 0; i < 5; i++)
        {
            old.Add(await Budgets.GetBudgetAsync(Ask(org: "capped")));
        }

        await RpcAssert.FailsAsync(StatusCode.ResourceExhausted, "QUOTA_EXHAUSTED", () => Budgets.GetBudgetAsync(Ask(org: "capped")).ResponseAsync);
        App.Time.Advance(TimeSpan.FromSeconds(35));
        var fresh = new List<GetBudgetResponse>();
        for (var i = 0; i < 5; i++)
        {
            fresh.Add(await Budgets.GetBudgetAsync(Ask(org: "capped")));
        }

        // Reports cross the boundary: each counts in its grant's window, once.
        var oldReport = await Budgets.ReportUsageAsync(Report(old[0].GrantId));
        await Budgets.ReportUsageAsync(Report(old[1].GrantId));
        var freshReport = await Budgets.ReportUsageAsync(Report(fresh[0].GrantId));
        await Budgets.ReportUsageAsync(Report(old[0].GrantId));

        var minute = GovernanceApp.Start;
        Assert.Equal(minute, oldReport.Quotas.Single().WindowStart.ToDateTimeOffset());
        Assert.Equal(minute.AddMinutes(1), freshReport.Quotas.Single().WindowStart.ToDateTimeOffset());
        var counters = (await App.CountersAsync()).ToDictionary(c => c.WindowStart, c => c.Consumed);
        Assert.Equal(2, counters[minute.ToUnixTimeSeconds()]);
        Assert.Equal(1, counters[minute.AddMinutes(1).ToUnixTimeSeconds()]);
    }

    [Fact]
    public async Task A_report_without_a_grant_is_accounted_once()
    {
        var report = new ReportUsageRequest
        {
            OrgId = "acme",
            TaskType = "support",
            Model = "gpt-test",
            ReportId = "batch-42",
            Usage = new UsageTokens { InputTokens = 1000, OutputTokens = 4000, ReasoningTokens = 3000 },
            StopReason = StopReason.EndTurn,
        };

        var first = await Budgets.ReportUsageAsync(report);
        var second = await Budgets.ReportUsageAsync(report);

        Assert.False(first.Duplicate);
        Assert.True(second.Duplicate);
        Assert.Equal(3000, first.Quotas.Single(q => q.Metric == QuotaMetric.ReasoningTokens).Used);
        Assert.Equal(0, first.Quotas.Single(q => q.Metric == QuotaMetric.ReasoningTokens).Reserved);
        Assert.Equal(3000, await ConsumedAsync("acme:reasoning_tokens:day"));
        Assert.Equal(1, await SettlementCountAsync());
    }

    [Fact]
    public async Task Past_the_soft_threshold_grants_shrink_and_say_why()
    {
        var first = await Budgets.GetBudgetAsync(Ask(org: "soft", taskType: "soft"));
        await Budgets.ReportUsageAsync(Report(first.GrantId, output: 7000, reasoning: 6000));

        var second = await Budgets.GetBudgetAsync(Ask(org: "soft", taskType: "soft"));

        Assert.Equal(Decision.Granted, first.Decision);
        Assert.Equal(Decision.Reduced, second.Decision);
        Assert.InRange(second.Budget.ReasoningTokens, 1024, 2047);
        Assert.Contains(second.Reasons, r => r.Code == ReasonCode.SoftLimit);
    }

    public static TheoryData<string, string> BadBudgetRequests() => new()
    {
        { "org_id", "no org" },
        { "org_id", "bad org" },
        { "org_id", "long org" },
        { "task_type", "no task type" },
        { "model", "no model" },
        { "features.complexity", "complexity 1.5" },
        { "features.complexity", "complexity NaN" },
        { "features.estimated_input_tokens", "negative input" },
        { "features.attempt", "attempt 1000" },
        { "features.previous_reasoning_tokens", "negative previous budget" },
        { "features.phase", "unknown phase" },
        { "request_id", "request id with spaces" },
    };

    [Theory]
    [MemberData(nameof(BadBudgetRequests))]
    public async Task Bad_GetBudget_input_is_invalid_argument_naming_the_field_and_changes_nothing(string field, string mistake)
    {
        var ask = Ask();
        switch (mistake)
        {
            case "no org": ask.OrgId = string.Empty; break;
            case "bad org": ask.OrgId = "acme; drop table"; break;
            case "long org": ask.OrgId = new string('a', 129); break;
            case "no task type": ask.TaskType = string.Empty; break;
            case "no model": ask.Model = string.Empty; break;
            case "complexity 1.5": ask.Features.Complexity = 1.5; break;
            case "complexity NaN": ask.Features.Complexity = double.NaN; break;
            case "negative input": ask.Features.EstimatedInputTokens = -1; break;
            case "attempt 1000": ask.Features.Attempt = 1000; break;
            case "negative previous budget": ask.Features.PreviousReasoningTokens = -1; break;
            case "unknown phase": ask.Features.Phase = (Phase)77; break;
            case "request id with spaces": ask.RequestId = "a b"; break;
        }

        var status = await RpcAssert.FailsAsync(StatusCode.InvalidArgument, "INVALID_ARGUMENT", () => Budgets.GetBudgetAsync(ask).ResponseAsync);

        RpcAssert.NamesField(status, field);
        Assert.Empty(await App.CountersAsync());
    }

    public static TheoryData<string, string> BadReports() => new()
    {
        { "usage", "no usage" },
        { "usage.output_tokens", "negative output" },
        { "usage.input_tokens", "absurd input" },
        { "usage.reasoning_tokens", "reasoning above output" },
        { "stop_reason", "unknown stop reason" },
        { "latency", "negative latency" },
        { "report_id", "grantless without report id" },
        { "grant_id", "huge grant id" },
    };

    [Theory]
    [MemberData(nameof(BadReports))]
    public async Task Bad_ReportUsage_input_is_invalid_argument_naming_the_field_and_changes_nothing(string field, string mistake)
    {
        var grant = await Budgets.GetBudgetAsync(Ask());
        var report = Report(grant.GrantId);
        switch (mistake)
        {
            case "no usage": report.Usage = null; break;
            case "negative output": report.Usage.OutputTokens = -5; break;
            case "absurd input": report.Usage.InputTokens = long.MaxValue; break;
            case "reasoning above output": report.Usage.ReasoningTokens = report.Usage.OutputTokens + 1; break;
            case "unknown stop reason": report.StopReason = (StopReason)99; break;
            case "negative latency": report.Latency = new Duration { Seconds = -1 }; break;
            case "grantless without report id": report = new ReportUsageRequest { OrgId = "acme", TaskType = "t", Model = "gpt-test", Usage = new UsageTokens() }; break;
            case "huge grant id": report.GrantId = new string('x', 5000); break;
        }

        var status = await RpcAssert.FailsAsync(StatusCode.InvalidArgument, "INVALID_ARGUMENT", () => Budgets.ReportUsageAsync(report).ResponseAsync);

        RpcAssert.NamesField(status, field);
        Assert.Equal(0, await SettlementCountAsync());
    }

    [Theory]
    [InlineData("")]
    [InlineData("huge")]
    public async Task Bad_ReleaseBudget_input_is_invalid_argument_naming_the_field(string grantId)
    {
        var request = new ReleaseBudgetRequest { GrantId = grantId == "huge" ? new string('g', 5000) : grantId };

        var status = await RpcAssert.FailsAsync(StatusCode.InvalidArgument, "INVALID_ARGUMENT", () => Budgets.ReleaseBudgetAsync(request).ResponseAsync);

        RpcAssert.NamesField(status, "grant_id");
        Assert.Equal(0, await SettlementCountAsync());
    }

    [Fact]
    public async Task An_unknown_org_is_not_found()
    {
        var status = await RpcAssert.FailsAsync(StatusCode.NotFound, "ORG_NOT_FOUND", () => Budgets.GetBudgetAsync(Ask(org: "nobody")).ResponseAsync);

        Assert.Contains("nobody", status.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unknown_model_is_invalid_argument()
    {
        var status = await RpcAssert.FailsAsync(StatusCode.InvalidArgument, "UNKNOWN_MODEL", () => Budgets.GetBudgetAsync(Ask(model: "gpt-99")).ResponseAsync);

        RpcAssert.NamesField(status, "model");
    }

    [Theory]
    [InlineData("unknown")]
    [InlineData("forged")]
    [InlineData("altered")]
    public async Task An_unknown_or_forged_grant_is_not_found_and_changes_nothing(string kind)
    {
        var real = await Budgets.GetBudgetAsync(Ask());
        var grantId = kind switch
        {
            "unknown" => "grant-123",
            "forged" => "tbg1.CgQAAAAA.AAAAAAAAAAAAAAAAAAAAAA",
            _ => real.GrantId[..^3] + (real.GrantId[^3] == 'A' ? "B" : "A") + real.GrantId[^2..],
        };

        await RpcAssert.FailsAsync(StatusCode.NotFound, "GRANT_NOT_FOUND", () => Budgets.ReportUsageAsync(Report(grantId)).ResponseAsync);
        await RpcAssert.FailsAsync(StatusCode.NotFound, "GRANT_NOT_FOUND", () => Budgets.ReleaseBudgetAsync(new ReleaseBudgetRequest { GrantId = grantId }).ResponseAsync);

        Assert.Equal(0, await SettlementCountAsync());
    }

    [Fact]
    public async Task A_report_naming_another_org_than_its_grants_is_refused()
    {
        var grant = await Budgets.GetBudgetAsync(Ask());
        var report = Report(grant.GrantId);
        report.OrgId = "small";

        await RpcAssert.FailsAsync(StatusCode.InvalidArgument, "ORG_MISMATCH", () => Budgets.ReportUsageAsync(report).ResponseAsync);

        Assert.Equal(0, await SettlementCountAsync());
    }

    [Fact]
    public async Task An_oversized_message_is_refused()
    {
        var ask = Ask();
        ask.TaskId = new string('x', 200_000);

        var error = await Assert.ThrowsAsync<RpcException>(() => Budgets.GetBudgetAsync(ask).ResponseAsync);

        Assert.Equal(StatusCode.ResourceExhausted, error.StatusCode);
        Assert.Empty(await App.CountersAsync());
    }

    [Fact]
    public async Task Health_answers_over_http_and_grpc()
    {
        using var http = App.CreateClient();
        var health = new Grpc.Health.V1.Health.HealthClient(App.Channel);

        Assert.Equal("Healthy", await http.GetStringAsync(new Uri("/healthz", UriKind.Relative)));
        Assert.Equal("Healthy", await http.GetStringAsync(new Uri("/readyz", UriKind.Relative)));
        var serving = await health.CheckAsync(new Grpc.Health.V1.HealthCheckRequest { Service = "taskbudgets.v1.BudgetService" });
        Assert.Equal(Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus.Serving, serving.Status);
        var alive = await health.CheckAsync(new Grpc.Health.V1.HealthCheckRequest { Service = string.Empty });
        Assert.Equal(Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus.Serving, alive.Status);
    }
}

/// <summary>The data-plane contract on the embedded default, SQLite.</summary>
public sealed class SqliteBudgetServiceTests : BudgetServiceContract
{
    protected override Task<GovernanceApp> StartAsync() => Task.FromResult(GovernanceApp.Create(extra: Settings.ShortTtl));
}

/// <summary>The same contract on a real PostgreSQL server.</summary>
public sealed class PostgreSqlBudgetServiceTests(PostgresServer postgres) : BudgetServiceContract
{
    protected override async Task<GovernanceApp> StartAsync() => GovernanceApp.Create(await postgres.CreateDatabaseAsync(), extra: Settings.ShortTtl);
}

/// <summary>
/// The same contract on SQL Server, when TASKBUDGETS_TEST_SQLSERVER names a server (each test
/// class gets a database of its own, created by the migrations). No SQL Server can run on the
/// build machine, so there these tests are reported skipped with that reason.
/// </summary>
public sealed class SqlServerBudgetServiceTests : BudgetServiceContract
{
    public const string Variable = "TASKBUDGETS_TEST_SQLSERVER";

    protected override Task<GovernanceApp> StartAsync()
    {
        var server = Environment.GetEnvironmentVariable(Variable);
        if (string.IsNullOrWhiteSpace(server))
        {
            Assert.Skip($"No SQL Server: set {Variable} to a connection string (a login that may create databases) to run these.");
        }

        var builder = new Microsoft.Data.SqlClient.SqlConnectionStringBuilder(server) { InitialCatalog = "tb_" + Guid.NewGuid().ToString("N") };
        return Task.FromResult(GovernanceApp.Create(extra: new Dictionary<string, string>(Settings.ShortTtl)
        {
            ["Storage:Provider"] = "SqlServer",
            ["ConnectionStrings:Governance"] = builder.ConnectionString,
        }));
    }
}

internal static class Settings
{
    /// <summary>Grants live 10 s so expiry can be shown inside one minute window.</summary>
    public static readonly Dictionary<string, string> ShortTtl = new()
    {
        ["Grants:Ttl"] = "00:00:10",
        ["Leases:Ttl"] = "00:01:00",
    };
}
