using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using TaskBudgets.Governance.Quotas;
using TaskBudgets.Governance.Tests.Infrastructure;
using TaskBudgets.V1;

namespace TaskBudgets.Governance.Tests.Quotas;

/// <summary>
/// A busy counter's next window starts with the demand of the one before it: its first grant
/// leases enough for what follows instead of a few grants' worth at a time, and near the end of
/// a window the renewal pass leases the next one before it starts.
/// </summary>
public sealed class WindowRolloverLeaseTests : IAsyncDisposable
{
    // No renewal pass runs in this test (the fake clock never reaches one), and a lease aims at
    // one interval of demand: only the grant path sizes leases here.
    private readonly GovernanceApp app = GovernanceApp.Create(extra: new Dictionary<string, string>
    {
        ["Grants:Ttl"] = "00:00:10",
        ["Leases:RenewInterval"] = "00:10:00",
        ["Leases:DemandHorizon"] = "00:10:00",
        ["Leases:Ttl"] = "01:00:00",
        ["Leases:ReclaimFreeAfter"] = "00:20:00",
    });

    public ValueTask DisposeAsync() => app.DisposeAsync();

    [Fact]
    public async Task The_first_grant_of_a_new_minute_leases_the_last_minutes_demand_in_one_go()
    {
        var ask = new GetBudgetRequest { OrgId = "acme", TaskType = "support", Model = "claude-test" };
        for (var i = 0; i < 100; i++)
        {
            await app.Budgets.GetBudgetAsync(ask);
        }

        app.Time.Advance(TimeSpan.FromMinutes(1));
        await app.Budgets.GetBudgetAsync(ask);
        var first = await LeaseAsync();
        for (var i = 0; i < 99; i++)
        {
            await app.Budgets.GetBudgetAsync(ask);
        }

        // acme:requests:minute had 100 grants out at once in the first minute. Starting from no
        // demand, the new window's lease took 1 + Leases:GrantsAhead (8) and grew a dozen times.
        Assert.True(first >= 100, $"the new minute's first lease took {first} requests after a minute of 100");
        Assert.Equal(first, await LeaseAsync());
    }

    [Fact]
    public async Task Near_the_end_of_a_busy_minute_the_renewal_leases_the_next_one_and_its_grants_do_not_wait_for_the_database()
    {
        var ask = new GetBudgetRequest { OrgId = "acme", TaskType = "support", Model = "claude-test" };
        for (var i = 0; i < 20; i++)
        {
            await app.Budgets.GetBudgetAsync(ask);
        }

        // 40 s into the minute, within Leases:ServeWithoutDatabaseFor (30 s) of its end.
        var renewal = app.Services.GetRequiredService<LeaseRenewal>();
        app.Time.Advance(TimeSpan.FromSeconds(40));
        await renewal.RenewAllAsync(CancellationToken.None);
        var ahead = await LeaseAsync();
        Assert.True(ahead >= 20, $"the next minute was leased {ahead} requests ahead, after 20 in this one");

        // Later passes, with no grant meanwhile, keep it: the next minute has no demand of its own to size it by yet.
        app.Time.Advance(TimeSpan.FromSeconds(10));
        await renewal.RenewAllAsync(CancellationToken.None);
        Assert.Equal(ahead, await LeaseAsync());

        // The hour's and the day's windows end far off: nothing is leased ahead for them.
        var next = GovernanceApp.Start.AddMinutes(1).ToUnixTimeSeconds();
        await using (var db = app.Db())
        {
            Assert.Empty(await db.CapacityLeases.Where(l => l.WindowStart >= next && l.CounterKey != "acme:requests:minute").Select(l => l.CounterKey).ToListAsync());
        }

        // The new minute's grants are served from that lease: none of them grows it.
        app.Time.Advance(TimeSpan.FromSeconds(10));
        for (var i = 0; i < 20; i++)
        {
            await app.Budgets.GetBudgetAsync(ask);
        }

        Assert.Equal(ahead, await LeaseAsync());
    }

    private async Task<long> LeaseAsync()
    {
        var window = GovernanceApp.Start.AddMinutes(1).ToUnixTimeSeconds();
        await using var db = app.Db();
        return await db.CapacityLeases.Where(l => l.CounterKey == "acme:requests:minute" && l.WindowStart == window).SumAsync(l => l.Amount);
    }
}
