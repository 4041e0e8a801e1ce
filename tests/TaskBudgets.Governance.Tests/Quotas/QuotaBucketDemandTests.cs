using TaskBudgets.Governance.Budgeting;
using TaskBudgets.Governance.Quotas;

namespace TaskBudgets.Governance.Tests.Quotas;

/// <summary>The demand a lease is sized to: the most its free capacity had to cover at once.</summary>
public sealed class QuotaBucketDemandTests
{
    private static readonly DateTimeOffset Start = new(2026, 11, 29, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Short_calls_one_at_a_time_demand_one_call_and_what_they_used()
    {
        var bucket = Bucket();
        for (var call = 0; call < 1_000; call++)
        {
            Assert.True(bucket.TryReserve(2_048));
            bucket.Release(2_048, leavesHold: 0);
            bucket.DebitLocally(1);
        }

        // One reservation in flight at a time, plus the 1,000 tokens used; not 1,000 x 2,048.
        Assert.Equal(2_048 + 999, bucket.TakeDemand(0.9).Recent);
    }

    [Fact]
    public void Calls_in_flight_together_demand_all_of_them_and_a_renewal_starts_counting_again()
    {
        var bucket = Bucket();
        for (var call = 0; call < 3; call++)
        {
            Assert.True(bucket.TryReserve(100));
        }

        for (var call = 0; call < 3; call++)
        {
            bucket.Release(100, leavesHold: 0);
        }

        Assert.Equal((300, 300), bucket.TakeDemand(0.5));

        Assert.True(bucket.TryReserve(100));
        Assert.Equal((100, 150), bucket.TakeDemand(0.5));

        // A reservation made before the pass and ended after it gives back: the next 40 fit in that.
        bucket.Release(100, leavesHold: 0);
        Assert.True(bucket.TryReserve(40));
        Assert.Equal((0, 75), bucket.TakeDemand(0.5));
    }

    [Fact]
    public void Grants_that_are_never_reported_demand_every_reservation()
    {
        var bucket = Bucket();
        for (var call = 0; call < 10; call++)
        {
            Assert.True(bucket.TryReserve(100));
        }

        Assert.Equal(1_000, bucket.TakeDemand(0.9).Recent);
    }

    [Fact]
    public void Debits_another_replica_made_on_this_lease_are_demand_too()
    {
        var bucket = Bucket();
        bucket.Observe(new LeaseState(DebitedByOthers: 500, Reclaimed: 0), consumed: 500, leasedByAll: 100_000, Start);
        bucket.Observe(new LeaseState(DebitedByOthers: 500, Reclaimed: 0), consumed: 500, leasedByAll: 100_000, Start);

        Assert.Equal(500, bucket.TakeDemand(0.9).Recent);
    }

    private static QuotaBucket Bucket()
    {
        var bucket = new QuotaBucket(
            new QuotaDefinition { Id = "q", OrgId = "o", Scope = QuotaScope.Org, Metric = QuotaMetric.ReasoningTokens, Window = WindowKind.Day, Limit = 1_000_000 },
            string.Empty,
            Start,
            "lease");
        bucket.AddLeased(100_000);
        bucket.Declared(bucket.BeginDeclaration(0, long.MaxValue));
        return bucket;
    }
}
