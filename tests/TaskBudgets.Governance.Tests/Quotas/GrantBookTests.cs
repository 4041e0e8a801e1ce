using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using TaskBudgets.Governance.Budgeting;
using TaskBudgets.Governance.Quotas;
using TaskBudgets.Governance.Telemetry;

namespace TaskBudgets.Governance.Tests.Quotas;

public sealed class GrantBookTests : IDisposable
{
    private static readonly DateTimeOffset Start = DateTimeOffset.FromUnixTimeSeconds(1_800_000_000);
    private readonly ServiceProvider services = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly QuotaBucket bucket = new(
        new QuotaDefinition { Id = "q", OrgId = "o", Scope = QuotaScope.Org, Metric = QuotaMetric.Requests, Window = WindowKind.Day, Limit = 1_000_000 },
        string.Empty,
        Start,
        "lease");

    private readonly GrantBook book;

    public GrantBookTests()
    {
        book = new GrantBook(new GovernanceMetrics(services.GetRequiredService<IMeterFactory>(), Options.Create(new TelemetryOptions())));
        bucket.AddLeased(1_000);
    }

    public void Dispose() => services.Dispose();

    [Fact]
    public void A_sweep_frees_exactly_the_grants_that_expired()
    {
        var grants = Enumerable.Range(0, 300).Select(i => Hold(Start.AddMilliseconds(i * 10))).ToList();

        var expired = book.SweepExpired(Start.AddMilliseconds(1_495));

        Assert.Equal(150, expired);
        Assert.Equal(150, book.ActiveCount);
        Assert.Equal(150, bucket.Reserved);
        Assert.Null(book.TryTake(grants[0].Id, grants[0].ExpiresAt));
        Assert.Same(grants[150], book.TryTake(grants[150].Id, grants[150].ExpiresAt));
    }

    [Fact]
    public void A_grant_is_taken_once_whoever_comes_first()
    {
        var grant = Hold(Start.AddSeconds(5));

        Assert.Same(grant, book.TryTake(grant.Id, grant.ExpiresAt));
        Assert.Null(book.TryTake(grant.Id, grant.ExpiresAt));
        Assert.Equal(0, book.SweepExpired(Start.AddSeconds(6)));
    }

    [Fact]
    public void A_grant_added_to_a_second_already_swept_is_still_freed()
    {
        Hold(Start);
        book.SweepExpired(Start.AddMinutes(5));

        // An issuer paused between reading the clock and adding its grant adds it to a past second.
        var late = Hold(Start.AddSeconds(1));
        var expired = book.SweepExpired(Start.AddMinutes(5).AddSeconds(1));

        Assert.Equal(1, expired);
        Assert.Equal(0, book.ActiveCount);
        Assert.Equal(0, bucket.Reserved);
        Assert.Null(book.TryTake(late.Id, late.ExpiresAt));
    }

    [Fact]
    public async Task A_request_id_replays_its_grant_until_the_grant_expires_and_is_then_forgotten()
    {
        var issued = 0;
        Task<IssuedGrant> Issue()
        {
            issued++;
            return Task.FromResult(new IssuedGrant("token-" + issued, Start.AddSeconds(2), default, default, "tier", new TierRule { TaskType = "*" }, 1, []));
        }

        var first = await book.GetOrIssue("org", "rq-1", Issue);
        var replayed = await book.GetOrIssue("org", "rq-1", Issue);
        book.SweepExpired(Start.AddSeconds(1));
        var stillReplayed = await book.GetOrIssue("org", "rq-1", Issue);
        book.SweepExpired(Start.AddSeconds(3));
        var afresh = await book.GetOrIssue("org", "rq-1", Issue);

        Assert.Same(first, replayed);
        Assert.Same(first, stillReplayed);
        Assert.Equal("token-2", afresh.Token);
        Assert.Equal(2, issued);
    }

    private ActiveGrant Hold(DateTimeOffset expiresAt)
    {
        Assert.True(bucket.TryReserve(1));
        var grant = new ActiveGrant(Guid.NewGuid(), expiresAt, [bucket], [1]);
        book.Add(grant);
        return grant;
    }
}
