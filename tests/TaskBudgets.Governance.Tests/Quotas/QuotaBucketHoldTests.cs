using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using TaskBudgets.Governance.Budgeting;
using TaskBudgets.Governance.Quotas;
using TaskBudgets.Governance.Telemetry;

namespace TaskBudgets.Governance.Tests.Quotas;

/// <summary>
/// A replica reserves only within the hold it declared to the database, so another replica may
/// take back the rest of its lease without asking it: the hold is never more than the database's.
/// </summary>
public sealed class QuotaBucketHoldTests
{
    private static readonly DateTimeOffset Start = new(2026, 11, 29, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void A_free_lease_grants_nothing_past_the_declared_hold()
    {
        var bucket = Bucket(leased: 10_000);
        bucket.Declared(bucket.BeginDeclaration(needed: 1_000, allowance: 500));

        Assert.Equal(1_500, bucket.HeldRoom);
        Assert.True(bucket.TryReserve(1_000));
        Assert.True(bucket.TryReserve(500));
        Assert.False(bucket.TryReserve(1));
        Assert.Equal(8_500, bucket.Free);
    }

    [Fact]
    public void A_hold_is_never_declared_past_the_lease_balance()
    {
        var bucket = Bucket(leased: 1_000);
        var declaration = bucket.BeginDeclaration(needed: 5_000, allowance: long.MaxValue);

        Assert.Equal(1_000, declaration.Held);
        var grown = bucket.BeginDeclaration(needed: 5_000, allowance: 0, growth: 9_000);
        Assert.Equal(5_000, grown.Held);
    }

    [Fact]
    public void A_smaller_hold_binds_at_once_and_a_larger_one_only_once_the_database_has_it()
    {
        var bucket = Bucket(leased: 10_000);
        bucket.Declared(bucket.BeginDeclaration(needed: 0, allowance: 5_000));
        Assert.True(bucket.TryReserve(1_000));

        // Shrinking: grants made while the write is in flight must fit the new hold.
        var smaller = bucket.BeginDeclaration(needed: 0, allowance: 500);
        Assert.Equal(500, bucket.HeldRoom);
        Assert.False(bucket.TryReserve(501));

        // Growing: until it commits, the old (smaller) hold binds.
        var larger = bucket.BeginDeclaration(needed: 0, allowance: 3_000);
        Assert.Equal(500, bucket.HeldRoom);
        bucket.Declared(larger);
        Assert.Equal(3_000, bucket.HeldRoom);
        Assert.Equal(1_000, smaller.Reserved);
    }

    [Fact]
    public void Grants_that_end_while_a_hold_is_declared_leave_it_when_it_lands()
    {
        var bucket = Bucket(leased: 10_000);
        bucket.Declared(bucket.BeginDeclaration(needed: 0, allowance: 5_000));
        Assert.True(bucket.TryReserve(1_000));
        var declaration = bucket.BeginDeclaration(needed: 0, allowance: 2_000);
        Assert.Equal(3_000, declaration.Held);

        // Settled on another replica meanwhile: the database lowered its hold by the reservation,
        // before or after this declaration landed; either way this replica's hold is not more.
        bucket.Release(1_000, leavesHold: 1_000);
        bucket.Declared(declaration);

        Assert.Equal(0, bucket.Reserved);
        Assert.Equal(2_000, bucket.HeldRoom);
    }

    [Theory]
    [InlineData(GrantEnding.ReleasedHere, 0, 5_000)]
    [InlineData(GrantEnding.SettledHere, 300, 4_700)]
    [InlineData(GrantEnding.SettledHere, 1_000, 4_000)]
    [InlineData(GrantEnding.EndedElsewhere, 0, 4_000)]
    [InlineData(GrantEnding.Expired, 0, 4_000)]
    public void How_a_grant_ends_decides_what_of_it_leaves_the_hold(GrantEnding ending, long leavesHold, long roomAfter)
    {
        var bucket = Bucket(leased: 10_000);
        bucket.Declared(bucket.BeginDeclaration(needed: 0, allowance: 5_000));
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var book = new GrantBook(new GovernanceMetrics(services.GetRequiredService<IMeterFactory>(), Options.Create(new TelemetryOptions())));
        Assert.True(bucket.TryReserve(1_000));
        var id = Guid.NewGuid();
        book.Add(id, Start.AddMinutes(1), [bucket], [1_000]);

        if (ending == GrantEnding.Expired)
        {
            Assert.Equal(1, book.SweepExpired(Start.AddMinutes(2)));
        }
        else
        {
            // Ended here, the caller says what leaves (as it lowered the database's hold); elsewhere, all of it.
            Assert.True(book.TryRelease(id, Start.AddMinutes(1), ending, [leavesHold]));
        }

        Assert.Equal(0, bucket.Reserved);
        Assert.Equal(roomAfter, bucket.HeldRoom);
    }

    [Fact]
    public void Capacity_taken_back_by_another_replica_leaves_the_free_lease_and_is_not_returned_twice()
    {
        var bucket = Bucket(leased: 10_000);
        bucket.Declared(bucket.BeginDeclaration(needed: 0, allowance: 2_000));
        bucket.Observe(new LeaseState(DebitedByOthers: 0, Reclaimed: 8_000), consumed: 0, leasedByAll: 2_000, Start);
        bucket.Observe(new LeaseState(DebitedByOthers: 0, Reclaimed: 8_000), consumed: 0, leasedByAll: 2_000, Start);

        Assert.Equal(2_000, bucket.LeaseBalance);
        Assert.Equal(2_000, bucket.HeldRoom);

        // Only what is beyond the hold may be returned: here, nothing.
        Assert.Equal(0, bucket.TakeFree(long.MaxValue));
    }

    private static QuotaBucket Bucket(long leased)
    {
        var bucket = new QuotaBucket(
            new QuotaDefinition { Id = "q", OrgId = "o", Scope = QuotaScope.Org, Metric = QuotaMetric.ReasoningTokens, Window = WindowKind.Day, Limit = 1_000_000 },
            string.Empty,
            Start,
            "lease");
        bucket.AddLeased(leased);
        return bucket;
    }
}
