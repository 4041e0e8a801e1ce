using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using TaskBudgets.Governance.Budgeting;
using TaskBudgets.Governance.Grants;
using TaskBudgets.Governance.Quotas;
using TaskBudgets.Governance.Telemetry;

namespace TaskBudgets.Governance.Tests.Quotas;

public sealed class GrantBookTests : IDisposable
{
    private static readonly DateTimeOffset Start = DateTimeOffset.FromUnixTimeSeconds(1_800_000_000);
    private readonly ServiceProvider services = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly QuotaBucket bucket = Bucket("q");

    private readonly GrantBook book;

    public GrantBookTests()
    {
        book = new GrantBook(new GovernanceMetrics(services.GetRequiredService<IMeterFactory>(), Options.Create(new TelemetryOptions())));
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
        Assert.False(book.TryRelease(grants[0].Id, grants[0].ExpiresAt, GrantEnding.ReleasedHere));
        Assert.True(book.TryRelease(grants[150].Id, grants[150].ExpiresAt, GrantEnding.ReleasedHere));
        Assert.Equal(149, bucket.Reserved);
    }

    [Fact]
    public void A_grant_is_released_once_whoever_comes_first()
    {
        var grant = Hold(Start.AddSeconds(5));

        Assert.True(book.TryRelease(grant.Id, grant.ExpiresAt, GrantEnding.ReleasedHere));
        Assert.False(book.TryRelease(grant.Id, grant.ExpiresAt, GrantEnding.ReleasedHere));
        Assert.Equal(0, book.SweepExpired(Start.AddSeconds(6)));
        Assert.Equal(0, bucket.Reserved);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    [InlineData(6)]
    public void Releasing_a_grant_frees_each_of_its_reservations_by_its_own_amount(int quotas)
    {
        var buckets = Enumerable.Range(0, quotas).Select(i => Bucket($"q{i}")).ToArray();
        var amounts = Enumerable.Range(0, quotas).Select(i => 10L * (i + 1)).ToArray();
        for (var i = 0; i < quotas; i++)
        {
            Assert.True(buckets[i].TryReserve(amounts[i] + 1));
        }

        var id = Guid.NewGuid();
        book.Add(id, Start.AddSeconds(5), buckets, amounts);

        Assert.True(book.TryRelease(id, Start.AddSeconds(5), GrantEnding.ReleasedHere));
        Assert.All(buckets, b => Assert.Equal(1, b.Reserved));
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
        Assert.False(book.TryRelease(late.Id, late.ExpiresAt, GrantEnding.ReleasedHere));
    }

    private static QuotaBucket Bucket(string id)
    {
        var bucket = new QuotaBucket(
            new QuotaDefinition { Id = id, OrgId = "o", Scope = QuotaScope.Org, Metric = QuotaMetric.Requests, Window = WindowKind.Day, Limit = 1_000_000 },
            string.Empty,
            Start,
            "lease");
        bucket.AddLeased(1_000);
        bucket.Declared(bucket.BeginDeclaration(0, long.MaxValue));
        return bucket;
    }

    private (Guid Id, DateTimeOffset ExpiresAt) Hold(DateTimeOffset expiresAt)
    {
        Assert.True(bucket.TryReserve(1));
        var id = Guid.NewGuid();
        book.Add(id, expiresAt, [bucket], [1]);
        return (id, expiresAt);
    }
}
