using System.Diagnostics;
using Grpc.Core;
using TaskBudgets.Client.Tests.Infrastructure;
using TaskBudgets.Governance.Tests.Infrastructure;
using V1 = TaskBudgets.V1;

namespace TaskBudgets.Client.Tests;

/// <summary>Retries reuse the request id (the server replays the grant) and stop at the deadline and retry budget.</summary>
public sealed class RetryTests : IAsyncLifetime
{
    private GovernanceApp app = null!;

    public ValueTask InitializeAsync()
    {
        app = GovernanceApp.Create();
        return ValueTask.CompletedTask;
    }

    public async ValueTask DisposeAsync() => await app.DisposeAsync();

    private static BudgetRequest Capped(string? requestId = null) => new() { OrgId = "capped", TaskType = "support", Model = "claude-test", RequestId = requestId };

    [Fact]
    public async Task A_lost_answer_is_retried_with_the_same_request_id_and_the_server_replays_the_same_grant()
    {
        await using var sdk = SdkHost.For(app);
        sdk.Wire.Faults = (method, nth) => method == "GetBudget" && nth == 1 ? Fault.DropAnswer : Fault.None;

        await using var grant = await sdk.Budgets.AcquireAsync(Capped());

        var attempts = sdk.Wire.Of("GetBudget").Select(c => c.As<V1.GetBudgetRequest>().RequestId).ToList();
        Assert.Equal(2, attempts.Count);
        Assert.StartsWith("sdk-", attempts[0], StringComparison.Ordinal);
        Assert.Equal(attempts[0], attempts[1]);
        Assert.Equal(attempts[0], grant.RequestId);
        Assert.True(grant.Replayed);

        // One reservation, not two: "capped" allows 5 requests a minute, and 4 more still fit.
        sdk.Wire.Faults = (_, _) => Fault.None;
        var others = new List<BudgetGrant>();
        for (var i = 0; i < 4; i++)
        {
            others.Add(await sdk.Budgets.AcquireAsync(Capped()));
        }

        await Assert.ThrowsAsync<BudgetDeniedException>(() => sdk.Budgets.AcquireAsync(Capped()));
        var requests = (await app.CountersAsync()).Single(c => c.CounterKey == "capped:requests:minute");
        Assert.True(requests.Consumed + requests.Leased <= 5);
    }

    [Fact]
    public async Task Two_acquires_with_the_same_given_request_id_are_one_grant()
    {
        await using var sdk = SdkHost.For(app);

        await using var first = await sdk.Budgets.AcquireAsync(Capped("job-17:item-3"));
        await using var again = await sdk.Budgets.AcquireAsync(Capped("job-17:item-3"));

        Assert.Equal(first.GrantId, again.GrantId);
        Assert.False(first.Replayed);
        Assert.True(again.Replayed);
    }

    [Fact]
    public async Task A_stalled_attempt_hits_its_deadline_and_the_retry_gets_through()
    {
        // Long enough for a served call on a busy machine; the stalled one waits it out.
        await using var sdk = SdkHost.For(app, o => o.Deadline = TimeSpan.FromSeconds(1.5));
        sdk.Wire.Faults = (method, nth) => method == "GetBudget" && nth == 1 ? Fault.Stall : Fault.None;

        await using var grant = await sdk.Budgets.AcquireAsync(Capped());

        var attempts = sdk.Wire.Of("GetBudget").Select(c => c.As<V1.GetBudgetRequest>().RequestId).ToList();
        Assert.True(attempts.Count >= 2);
        Assert.All(attempts, id => Assert.Equal(grant.RequestId, id));
        Assert.Equal(BudgetDecision.Granted, grant.Decision);
        Assert.True(sdk.Retries("GetBudget") >= 1);
    }

    [Fact]
    public async Task Every_attempt_past_its_deadline_fails_closed_with_deadline_exceeded()
    {
        await using var sdk = SdkHost.For(app, o =>
        {
            o.Deadline = TimeSpan.FromMilliseconds(300);
            o.MaxRetries = 1;
        });
        sdk.Wire.Faults = (_, _) => Fault.Stall;
        var clock = Stopwatch.StartNew();

        var error = await Assert.ThrowsAsync<BudgetServiceException>(() => sdk.Budgets.AcquireAsync(Capped()));

        Assert.Equal(StatusCode.DeadlineExceeded, error.StatusCode);
        Assert.True(error.IsUnreachable);
        Assert.IsNotType<BudgetDeniedException>(error);
        Assert.Equal(2, sdk.Wire.Of("GetBudget").Count);
        Assert.InRange(clock.Elapsed, TimeSpan.FromMilliseconds(550), TimeSpan.FromSeconds(10));
        Assert.Empty(await app.CountersAsync());
    }

    [Fact]
    public async Task A_denial_is_not_retried()
    {
        await using var sdk = SdkHost.For(app);
        for (var i = 0; i < 5; i++)
        {
            await sdk.Budgets.AcquireAsync(Capped());
        }

        await Assert.ThrowsAsync<BudgetDeniedException>(() => sdk.Budgets.AcquireAsync(Capped()));

        Assert.Equal(6, sdk.Wire.Of("GetBudget").Count);
    }

    [Fact]
    public async Task Cancelling_the_caller_stops_retrying()
    {
        await using var sdk = SdkHost.For(app, o =>
        {
            o.InitialBackoff = TimeSpan.FromSeconds(30);
            o.MaxBackoff = TimeSpan.FromSeconds(30);
        });
        sdk.Wire.Faults = (_, _) => Fault.Unreachable;
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => sdk.Budgets.AcquireAsync(Capped(), cancel.Token));

        Assert.Single(sdk.Wire.Of("GetBudget"));
    }
}
