using Grpc.Core;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using TaskBudgets.Client.Tests.Infrastructure;
using TaskBudgets.Governance.Tests.Infrastructure;
using V1 = TaskBudgets.V1;

namespace TaskBudgets.Client.Tests;

/// <summary>When the service cannot be reached: fail closed by default, or open with a fixed small budget, reported as such.</summary>
public sealed class FallbackTests
{
    private static readonly BudgetRequest Ask = new() { OrgId = "acme", TaskType = "support", Model = "claude-test" };

    [Fact]
    public async Task By_default_an_unreachable_service_fails_closed_after_the_retries()
    {
        await using var sdk = SdkHost.Unreachable();

        var error = await Assert.ThrowsAsync<BudgetServiceException>(() => sdk.Budgets.AcquireAsync(Ask));

        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
        Assert.True(error.IsUnreachable);
        Assert.Null(error.Reason);
        Assert.Equal(2, sdk.Retries("GetBudget"));
    }

    [Fact]
    public async Task Failing_open_gives_a_fallback_grant_with_the_configured_budget_marked_as_such()
    {
        await using var sdk = SdkHost.Unreachable(o =>
        {
            o.MaxRetries = 1;
            o.Fallback.Mode = FallbackMode.FailOpen;
            o.Fallback.ReasoningTokens = 1500;
            o.Fallback.MaxOutputTokens = 3000;
        });

        var grant = await sdk.Budgets.AcquireAsync(Ask);
        var receipt = await grant.ReportAsync(Usage.FromAnthropic(100, 900, thinkingTokens: 600), StopReason.EndTurn);
        await grant.DisposeAsync();

        Assert.True(grant.IsFallback);
        Assert.Equal(BudgetDecision.Fallback, grant.Decision);
        Assert.Equal(new Budget(3000, 1500, Effort.Low, 0), grant.Budget);
        Assert.Equal(new AnthropicParameters(3000, 1500, "low", 0, 0), grant.Anthropic);
        Assert.Equal(BudgetReasonCode.Fallback, Assert.Single(grant.Reasons).Code);
        Assert.Null(grant.GrantId);
        Assert.Null(grant.ExpiresAt);
        Assert.Empty(grant.Quotas);
        Assert.Equal(StatusCode.Unavailable, grant.FallbackCause!.StatusCode);

        // The report tried the service (as a report without a grant) and, failing open, did not throw.
        Assert.False(receipt.Recorded);
        Assert.Null(receipt.SettledAt);
        Assert.Equal(1, sdk.Retries("ReportUsage"));
        Assert.DoesNotContain(sdk.Logs.Entries, e => e.Message.StartsWith("ReleaseBudget", StringComparison.Ordinal) || e.Event.Id == 5);

        // Both the fallback and the unrecorded usage are in the log, as warnings, with the numbers.
        Assert.Contains(sdk.Logs.Entries, e => e.Event.Id == 2 && e.Level == LogLevel.Warning && e.Message.Contains("failing open", StringComparison.Ordinal));
        Assert.Contains(sdk.Logs.Entries, e => e.Event.Id == 3 && e.Level == LogLevel.Warning && e.Message.Contains("output 900, reasoning 600", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_fallback_grant_reports_its_usage_without_a_grant_so_it_is_still_accounted()
    {
        await using var app = GovernanceApp.Create();
        await using var sdk = SdkHost.For(app, o => o.Fallback.Mode = FallbackMode.FailOpen);
        sdk.Wire.Faults = (method, _) => method == "GetBudget" ? Fault.Unreachable : Fault.None;

        await using var grant = await sdk.Budgets.AcquireAsync(Ask with { ProjectId = "proj-1", PrincipalId = "user-7" });
        var receipt = await grant.ReportAsync(new Usage(1000, 4000, 3000), StopReason.EndTurn);
        var again = await grant.ReportAsync(new Usage(1000, 4000, 3000), StopReason.EndTurn);

        Assert.True(grant.IsFallback);
        Assert.True(receipt.Recorded);
        Assert.False(receipt.Duplicate);
        Assert.Same(receipt, again);
        var sent = Assert.Single(sdk.Wire.Of("ReportUsage")).As<V1.ReportUsageRequest>();
        Assert.Equal((string.Empty, "acme", "proj-1", "user-7", "support", "claude-test", grant.RequestId), (sent.GrantId, sent.OrgId, sent.ProjectId, sent.PrincipalId, sent.TaskType, sent.Model, sent.ReportId));
        Assert.Equal(3000, receipt.Quotas.Single(q => q.Metric == QuotaMetric.ReasoningTokens).Used);
        Assert.Equal(0, receipt.Quotas.Single(q => q.Metric == QuotaMetric.ReasoningTokens).Reserved);
        await using var db = app.Db();
        var row = await db.Settlements.AsNoTracking().SingleAsync();
        Assert.Equal($"r:acme:{grant.RequestId}", row.Id);
        Assert.Equal(3000, (await app.CountersAsync()).Where(c => c.CounterKey == "acme:reasoning_tokens:day").Sum(c => c.Consumed));
    }

    [Fact]
    public async Task A_fallback_reports_retry_keeps_its_report_id_and_counts_once()
    {
        await using var app = GovernanceApp.Create();
        await using var sdk = SdkHost.For(app, o => o.Fallback.Mode = FallbackMode.FailOpen);
        sdk.Wire.Faults = (method, nth) => method switch
        {
            "GetBudget" => Fault.Unreachable,
            "ReportUsage" when nth == 1 => Fault.DropAnswer,
            _ => Fault.None,
        };

        await using var grant = await sdk.Budgets.AcquireAsync(Ask);
        var receipt = await grant.ReportAsync(new Usage(100, 400, 300));

        Assert.True(receipt.Duplicate);
        Assert.Single(sdk.Wire.Of("ReportUsage").Select(c => c.As<V1.ReportUsageRequest>().ReportId).Distinct());
        await using var db = app.Db();
        Assert.Equal(1, await db.Settlements.CountAsync());
    }

    public static TheoryData<string, ModelFamily?> Models() => new()
    {
        { "claude-sonnet-4-5", ModelFamily.Anthropic },
        { "gpt-5", ModelFamily.OpenAi },
        { "o3-mini", ModelFamily.OpenAi },
        { "gemini-2.5-pro", ModelFamily.Gemini },
        { "in-house-llm", ModelFamily.Gemini }, // from Fallback:ModelFamilies
        { "mystery-model", null },
    };

    [Theory]
    [MemberData(nameof(Models))]
    public async Task A_fallback_grant_has_parameters_for_the_family_its_model_name_or_the_options_tell(string model, ModelFamily? family)
    {
        await using var sdk = SdkHost.Unreachable(o =>
        {
            o.MaxRetries = 0;
            o.Fallback.Mode = FallbackMode.FailOpen;
            o.Fallback.ModelFamilies["in-house-llm"] = ModelFamily.Gemini;
        });

        await using var grant = await sdk.Budgets.AcquireAsync(Ask with { Model = model });

        Assert.Equal(family, grant.ProviderParameters?.Family);
        switch (family)
        {
            case ModelFamily.Anthropic: Assert.Equal(new AnthropicParameters(2048, 1024, "low", 0, 0), grant.Anthropic); break;
            case ModelFamily.OpenAi: Assert.Equal(new OpenAiParameters("low", 2048), grant.OpenAi); break;
            case ModelFamily.Gemini: Assert.Equal(new GeminiParameters(1024, 2048), grant.Gemini); break;
        }
    }

    [Fact]
    public async Task A_fallback_below_anthropics_thinking_floor_asks_for_no_thinking()
    {
        await using var sdk = SdkHost.Unreachable(o =>
        {
            o.MaxRetries = 0;
            o.Fallback.Mode = FallbackMode.FailOpen;
            o.Fallback.ReasoningTokens = 512;
        });

        await using var grant = await sdk.Budgets.AcquireAsync(Ask);

        Assert.Equal(512, grant.Budget.ReasoningTokens);
        Assert.Equal(0, grant.Anthropic!.ThinkingBudgetTokens);
    }
}
