using Grpc.Core;
using TaskBudgets.Client.Tests.Infrastructure;
using TaskBudgets.Governance.Tests.Infrastructure;

namespace TaskBudgets.Client.Tests;

/// <summary>The service's google.rpc details become typed exceptions; none of them falls back.</summary>
public sealed class ErrorMappingTests : IAsyncLifetime
{
    private GovernanceApp app = null!;
    private SdkHost sdk = null!;

    public ValueTask InitializeAsync()
    {
        app = GovernanceApp.Create();
        sdk = SdkHost.For(app, o => o.Fallback.Mode = FallbackMode.FailOpen);
        return ValueTask.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        await sdk.DisposeAsync();
        await app.DisposeAsync();
    }

    [Fact]
    public async Task A_quota_denial_is_a_budget_denied_exception_with_the_quota_id_and_when_to_retry()
    {
        var deep = new BudgetRequest { OrgId = "small", TaskType = "support", Model = "claude-test", Phase = Phase.Deep };
        for (var i = 0; i < 3; i++)
        {
            await sdk.Budgets.AcquireAsync(deep);
        }

        var denied = await Assert.ThrowsAsync<BudgetDeniedException>(() => sdk.Budgets.AcquireAsync(deep));

        Assert.Equal(StatusCode.ResourceExhausted, denied.StatusCode);
        Assert.Equal("QUOTA_EXHAUSTED", denied.Reason);
        Assert.Equal("small:reasoning_tokens:day", denied.QuotaId);
        Assert.Equal(TimeSpan.FromHours(12), denied.RetryAfter); // the fake clock is at noon UTC
        var violation = Assert.Single(denied.Violations);
        Assert.Equal("org:small", violation.Subject);
        Assert.Contains("small:reasoning_tokens:day", violation.Description, StringComparison.Ordinal);
        Assert.False(denied.IsUnreachable);
        Assert.Contains("QUOTA_EXHAUSTED", denied.Message, StringComparison.Ordinal);
        Assert.IsType<RpcException>(denied.InnerException);
    }

    [Fact]
    public async Task An_unknown_org_is_not_found_and_does_not_fail_open()
    {
        var error = await Assert.ThrowsAsync<BudgetServiceException>(() => sdk.Budgets.AcquireAsync(new BudgetRequest { OrgId = "nobody", TaskType = "support", Model = "claude-test" }));

        Assert.Equal(StatusCode.NotFound, error.StatusCode);
        Assert.Equal("ORG_NOT_FOUND", error.Reason);
        Assert.Single(sdk.Wire.Of("GetBudget"));
    }

    [Fact]
    public async Task Bad_input_is_invalid_argument_naming_the_field()
    {
        var error = await Assert.ThrowsAsync<BudgetServiceException>(() => sdk.Budgets.AcquireAsync(new BudgetRequest { OrgId = "acme", TaskType = "support", Model = "claude-test", Complexity = 1.5 }));

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Equal("INVALID_ARGUMENT", error.Reason);
        Assert.Contains(error.FieldViolations, v => v.Field == "features.complexity");
    }

    [Fact]
    public async Task An_unknown_model_is_invalid_argument_with_its_own_reason()
    {
        var error = await Assert.ThrowsAsync<BudgetServiceException>(() => sdk.Budgets.AcquireAsync(new BudgetRequest { OrgId = "acme", TaskType = "support", Model = "gpt-99" }));

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Equal("UNKNOWN_MODEL", error.Reason);
    }

    [Fact]
    public async Task A_report_the_service_refuses_surfaces_its_reason()
    {
        await using var grant = await sdk.Budgets.AcquireAsync(new BudgetRequest { OrgId = "acme", TaskType = "support", Model = "claude-test" });

        var error = await Assert.ThrowsAsync<BudgetServiceException>(() => grant.ReportAsync(new Usage(1, 1), (StopReason)99));

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Contains(error.FieldViolations, v => v.Field == "stop_reason");
        Assert.Null(grant.Receipt);
    }
}
