using TaskBudgets.Governance.Quotas;

namespace TaskBudgets.Governance.Tests.Quotas;

public class LeaseSizingTests
{
    [Theory]
    [InlineData(100, 40, 5.0, 1_000_000, 1_000_000, 500)] // a horizon of the larger of recent and remembered demand
    [InlineData(10, 40, 5.0, 1_000_000, 1_000_000, 200)] // a lull: the remembered rate keeps the lease
    [InlineData(100, 400, 5.0, 99_999, 1_000_000, 100)] // near the limit: one interval of recent demand only
    [InlineData(0, 0, 5.0, 1_000_000, 1_000_000, 0)] // no demand, no lease
    public void A_lease_aims_at_a_horizon_of_demand_and_shrinks_near_the_limit(long recent, long smoothed, double horizon, long unleased, long limit, long expected) =>
        Assert.Equal(expected, LeaseSizing.Target(recent, smoothed, horizon, unleased, limit));

    [Theory]
    [InlineData(100, 100, 8, 0, 900)] // no demand known yet: GrantsAhead grants ahead
    [InlineData(100, 100, 8, 50_000, 50_100)] // a busy bucket: its demand target, not 8 grants
    [InlineData(0, 1, 8, 3, 8)]
    public void A_grant_that_finds_the_lease_short_asks_for_its_demand_not_a_few_grants(long missing, long needed, int grantsAhead, long target, long expected) =>
        Assert.Equal(expected, LeaseSizing.RequestPathWant(missing, needed, grantsAhead, target));

    [Fact]
    public void Huge_amounts_saturate_instead_of_overflowing()
    {
        Assert.Equal(long.MaxValue, LeaseSizing.RequestPathWant(10, long.MaxValue / 2, 8, 0));
        Assert.Equal(long.MaxValue, LeaseSizing.RequestPathWant(long.MaxValue - 1, 1, 8, 0));
        Assert.Equal(long.MaxValue, LeaseSizing.Target(long.MaxValue / 2, 0, 5.0, long.MaxValue, long.MaxValue));
    }
}
