using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Grpc.Core;
using TaskBudgets.Governance.Tests.Infrastructure;
using TaskBudgets.V1;

namespace TaskBudgets.Governance.Tests.Processes;

/// <summary>
/// Capacity follows the grant across a fleet of real replicas on one PostgreSQL: a grant ended on
/// any replica frees its issuer's capacity within a renew interval or two, a silent replica's free
/// capacity comes back after Leases:ReclaimFreeAfter, and nothing of this ever overspends. Every
/// grant here reserves 1,024 reasoning tokens (the model's thinking floor); grants and leases
/// live for minutes, so nothing in these tests is rescued by an expiry.
/// </summary>
public sealed partial class FleetTests(PostgresServer postgres) : IAsyncDisposable
{
    private const long Grant = 1_024;

    private static readonly string Policy = TestPolicy.FixedGrant("""
          - id: ten
            tier: standard
            quotas:
              - metric: reasoning_tokens
                window: day
                limit: 10240
          - id: forty
            tier: standard
            quotas:
              - metric: reasoning_tokens
                window: day
                limit: 40960
          - id: twenty
            tier: standard
            quotas:
              - metric: reasoning_tokens
                window: day
                limit: 20480
        """);

    private static readonly TimeSpan ReclaimFreeAfter = TimeSpan.FromSeconds(1);

    private ReplicaFleet? fleet;

    public async ValueTask DisposeAsync()
    {
        if (fleet is not null)
        {
            await fleet.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_grant_released_or_reported_on_another_replica_frees_its_issuer_within_two_renew_intervals()
    {
        var interval = TimeSpan.FromMilliseconds(500);
        fleet = await StartAsync(interval);
        var (a, b, c) = (fleet[0], fleet[1], fleet[2]);

        // "ten" fits exactly ten grants: all of them on A.
        var issued = await GrantUntilRefusedAsync(a, "ten");
        Assert.Equal(10, issued.Count);

        // Every replica's usage summary counts the fleet's reservations, not only its own.
        await UntilAsync(async () => await ReservedAsync(c, "ten") == 10 * Grant, TimeSpan.FromSeconds(30));

        // Released on B: A holds nothing within two intervals, and serves all ten again.
        foreach (var grant in issued)
        {
            Assert.False((await b.Budgets.ReleaseBudgetAsync(new ReleaseBudgetRequest { GrantId = grant.GrantId })).AlreadySettled);
        }

        var clock = Stopwatch.StartNew();
        await UntilAsync(async () => await ActiveReservationsAsync(a) == 0, TimeSpan.FromSeconds(30));
        var freed = clock.Elapsed;
        var again = await GrantCountAsync(a, "ten", 1, TimeSpan.FromSeconds(30));
        var regranted = clock.Elapsed;
        again.AddRange(await GrantCountAsync(a, "ten", 9, TimeSpan.FromSeconds(30)));
        Assert.Equal(10, again.Count);
        AssertWithin(2 * interval, freed, "A's active reservations to reach 0 after its grants were released on B");
        await UntilAsync(async () => await ReservedAsync(c, "ten") == 10 * Grant, TimeSpan.FromSeconds(30));
        AssertWithin(2 * interval, regranted, "A to grant again after its grants were released on B");
        await AssertRefusedAsync(a, "ten");
        await AssertRefusedAsync(c, "ten");

        // Reported on B at 100 tokens each: 9,240 left, nine grants' worth, now on C. A's numbers
        // tell the truth meanwhile: none of its capacity is reserved.
        foreach (var grant in again)
        {
            await b.Budgets.ReportUsageAsync(Report(grant, reasoning: 100));
        }

        clock.Restart();
        var onC = await GrantCountAsync(c, "ten", 1, TimeSpan.FromSeconds(30));
        AssertWithin(2 * interval, clock.Elapsed, "C to grant from A's capacity after A's grants were reported on B");
        onC.AddRange(await GrantCountAsync(c, "ten", 8, TimeSpan.FromSeconds(30)));
        Assert.Equal(9, onC.Count);
        await UntilAsync(async () => await ActiveReservationsAsync(a) == 0, TimeSpan.FromSeconds(30));
        await UntilAsync(async () => await ReservedAsync(a, "ten") == 9 * Grant, TimeSpan.FromSeconds(30));
        foreach (var replica in fleet.Replicas)
        {
            await AssertRefusedAsync(replica, "ten");
        }

        var (consumed, leased) = await fleet.CounterAsync("ten:reasoning_tokens:day");
        Assert.Equal(1_000, consumed);
        Assert.True(consumed + leased <= 10_240, $"consumed {consumed} + leased {leased} passes 10240");
        fleet.AssertNoDeadlocks();
        fleet.AssertNoErrors();
    }

    [Fact]
    public async Task Round_robin_on_a_tight_quota_refuses_only_what_does_not_fit_and_never_overspends()
    {
        var interval = TimeSpan.FromMilliseconds(200);
        fleet = await StartAsync(interval);
        const long Limit = 40_960;

        // The test's own books, pessimistic both ways: a call counts as live from before it asks
        // until its report is acknowledged, and its use counts from before the report is sent. A
        // refusal while the rest (limit less use less every other live call) still fits a grant
        // is a false refusal.
        long live = 0, consumed = 0, next = 0, granted = 0, reported = 0;
        var falseRefusals = new List<string>();
        var clock = Stopwatch.StartNew();
        using var giveUp = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        await Task.WhenAll(Enumerable.Range(0, 6).Select(async _ =>
        {
            while (!giveUp.IsCancellationRequested && Interlocked.Read(ref consumed) + Grant <= Limit)
            {
                var at = (int)(Interlocked.Increment(ref next) % 3);
                Interlocked.Add(ref live, Grant);
                GetBudgetResponse grant;
                try
                {
                    grant = await fleet[at].Budgets.GetBudgetAsync(Ask("forty"));
                }
                catch (RpcException e) when (e.StatusCode == StatusCode.ResourceExhausted)
                {
                    var room = Limit - Interlocked.Read(ref consumed) - (Interlocked.Add(ref live, -Grant));
                    if (room >= Grant && clock.Elapsed > interval)
                    {
                        lock (falseRefusals)
                        {
                            falseRefusals.Add($"{clock.Elapsed.TotalSeconds:F2}s replica {at}: {room} fitted; {e.Status.Detail}");
                        }
                    }

                    await Task.Delay(5);
                    continue;
                }

                Interlocked.Increment(ref granted);
                await Task.Delay(10);
                Interlocked.Add(ref consumed, 100);
                await fleet[(at + 1) % 3].Budgets.ReportUsageAsync(Report(grant, reasoning: 100));
                Interlocked.Increment(ref reported);
                Interlocked.Add(ref live, -Grant);
            }
        }));

        var (stored, leased) = await fleet.CounterAsync("forty:reasoning_tokens:day");
        Assert.False(giveUp.IsCancellationRequested, $"only {reported} calls in 90 s");
        Assert.Equal(reported * 100, stored);
        Assert.True(stored + leased <= Limit, $"consumed {stored} + leased {leased} passes {Limit}");
        Assert.True(reported >= 390, $"{reported} calls of 100 tokens against {Limit}");

        // Zero in most runs; the last few grants, fought over by six callers on three replicas, can
        // still meet a retry limit under contention (see docs/operations.md, "A fleet of replicas").
        Assert.True(falseRefusals.Count * 100 <= granted, $"{falseRefusals.Count} refusals of {granted + falseRefusals.Count} calls while a grant fitted:\n" + string.Join("\n", falseRefusals.Take(20)));
        fleet.AssertNoDeadlocks();
        fleet.AssertNoErrors();
    }

    [Fact]
    public async Task After_kill_9_the_dead_replicas_free_capacity_returns_in_seconds_and_its_grants_part_as_they_settle()
    {
        var interval = TimeSpan.FromMilliseconds(200);
        fleet = await StartAsync(interval);
        var victim = fleet[2];
        var survivors = fleet.Replicas.Take(2).ToArray();
        const long Limit = 20_480;

        var held = new List<GetBudgetResponse>();
        for (var i = 0; i < 5; i++)
        {
            held.Add(await victim.Budgets.GetBudgetAsync(Ask("twenty")));
        }

        // Once its demand has faded, the victim's lease holds more than it declared it may grant from.
        await UntilFreeAsync("twenty:reasoning_tokens:day");
        await victim.KillAsync();
        var killed = Stopwatch.StartNew();
        var (balance, hold) = await VictimLeaseAsync("twenty:reasoning_tokens:day");

        // Leases live for minutes: only the reclaim of the free part can give it back this soon.
        var (grants, at) = await DrainAsync(survivors, "twenty", ReclaimFreeAfter + TimeSpan.FromSeconds(4), killed);
        var (balanceAfter, holdAfter) = await VictimLeaseAsync("twenty:reasoning_tokens:day");
        Assert.True(grants.Count * Grant >= Limit - hold - Grant + 1, $"survivors granted {grants.Count} x {Grant}; the victim held {hold} of a {balance} lease");
        Assert.Equal(holdAfter, balanceAfter);

        // The first grant that needed the dead replica's capacity: what the others had without it came before.
        // A renewal in the last moments before the kill may have returned the free part itself; then
        // the pool already had it, and only its live grants' part is left to return below.
        var withoutVictim = (int)((Limit - balance) / Grant);
        if (balance - hold >= Grant)
        {
            Assert.True(grants.Count > withoutVictim, $"survivors granted {grants.Count}, none of them from the dead replica's free {balance - hold}");
            AssertWithin(ReclaimFreeAfter + (3 * interval), at[withoutVictim], "the survivors to grant from the dead replica's free capacity");
        }
        else
        {
            Assert.True(grants.Count >= withoutVictim, $"survivors granted {grants.Count} of the {withoutVictim} the pool had without the dead replica");
        }

        // Its live grants, reported on the survivors: what they reserved returns too.
        foreach (var grant in held)
        {
            await survivors[0].Budgets.ReportUsageAsync(Report(grant, reasoning: 100));
        }

        var (more, _) = await DrainAsync(survivors, "twenty", ReclaimFreeAfter + TimeSpan.FromSeconds(4), Stopwatch.StartNew());
        var (_, holdSettled) = await VictimLeaseAsync("twenty:reasoning_tokens:day");
        Assert.True(holdSettled <= hold - (5 * Grant), $"the dead replica's hold was {hold} and is {holdSettled} after its five grants settled");
        Assert.True((grants.Count + more.Count) * Grant >= Limit - 500 - holdSettled - Grant + 1, $"survivors granted {grants.Count} + {more.Count} after the reports; the dead hold is {holdSettled}");

        var (consumed, leased) = await fleet.CounterAsync("twenty:reasoning_tokens:day");
        Assert.Equal(500, consumed);
        Assert.True(consumed + leased <= Limit, $"consumed {consumed} + leased {leased} passes {Limit}");
        Assert.True((grants.Count + more.Count) * Grant + consumed <= Limit, "the survivors granted more than the quota had");
        Assert.Equal(5, (await fleet.QueryAsync("SELECT COUNT(*) FROM settlements"))[0]);
    }

    [Fact]
    public async Task A_paused_replica_does_not_grant_from_capacity_reclaimed_while_it_was_stopped()
    {
        var interval = TimeSpan.FromMilliseconds(200);
        fleet = await StartAsync(interval);
        var victim = fleet[2];
        var survivors = fleet.Replicas.Take(2).ToArray();
        const long Limit = 20_480;
        for (var i = 0; i < 3; i++)
        {
            await victim.Budgets.GetBudgetAsync(Ask("twenty"));
        }

        await UntilFreeAsync("twenty:reasoning_tokens:day");
        await victim.PauseAsync();
        List<GetBudgetResponse> taken;
        long hold, heldWhilePaused;
        try
        {
            // Read once it is stopped: until then a renewal may still declare a new hold.
            (_, hold) = await VictimLeaseAsync("twenty:reasoning_tokens:day");
            // Longer than Leases:ReclaimFreeAfter: the others take back its free capacity.
            (taken, _) = await DrainAsync(survivors, "twenty", ReclaimFreeAfter + TimeSpan.FromSeconds(4), Stopwatch.StartNew());
            (_, heldWhilePaused) = await VictimLeaseAsync("twenty:reasoning_tokens:day");
        }
        finally
        {
            await victim.ResumeAsync();
        }

        Assert.True(taken.Count * Grant >= Limit - hold - Grant + 1, $"survivors granted {taken.Count} x {Grant} while the victim held {hold}");

        // Back, with its old view of a lease that lost its free part: it grants only within its hold.
        var afterPause = 0;
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(3))
        {
            try
            {
                await victim.Budgets.GetBudgetAsync(Ask("twenty"));
                afterPause++;
            }
            catch (RpcException e) when (e.StatusCode is StatusCode.ResourceExhausted or StatusCode.Unavailable)
            {
                await Task.Delay(20);
            }
        }

        var total = (3 + taken.Count + afterPause) * Grant;
        Assert.True(total <= Limit, $"granted {total} of {Limit}: 3 before the pause, {taken.Count} on the others, {afterPause} after it (its hold was {heldWhilePaused})");
        var (consumed, leased) = await fleet.CounterAsync("twenty:reasoning_tokens:day");
        Assert.True(consumed + leased <= Limit, $"consumed {consumed} + leased {leased} passes {Limit}");
    }

    private static GetBudgetRequest Ask(string org) => new() { OrgId = org, TaskType = "t", Model = "claude-test" };

    private static ReportUsageRequest Report(GetBudgetResponse grant, long reasoning) => new()
    {
        GrantId = grant.GrantId,
        Usage = new UsageTokens { OutputTokens = reasoning + 10, ReasoningTokens = reasoning },
        StopReason = StopReason.EndTurn,
    };

    private static void AssertWithin(TimeSpan promised, TimeSpan took, string what)
    {
        // A second on top for a shared machine's scheduling: without the feature this takes minutes.
        var allowed = promised + TimeSpan.FromSeconds(1);
        Assert.True(took <= allowed, $"{took.TotalMilliseconds:F0} ms for {what}, more than {allowed.TotalMilliseconds:F0} ms");
    }

    private async Task<ReplicaFleet> StartAsync(TimeSpan interval) => await ReplicaFleet.StartAsync(postgres, Policy, 3, new Dictionary<string, string>
    {
        ["Leases:RenewInterval"] = interval.ToString("c", CultureInfo.InvariantCulture),
        ["Leases:ReclaimFreeAfter"] = TimeSpan.FromTicks(Math.Max(ReclaimFreeAfter.Ticks, 2 * interval.Ticks)).ToString("c", CultureInfo.InvariantCulture),
        ["Leases:HoldAhead"] = interval.ToString("c", CultureInfo.InvariantCulture),
        ["Leases:DemandHorizon"] = "00:00:01",
        ["Grants:Ttl"] = "00:05:00",
        ["Leases:Ttl"] = "00:06:00",
    });

    /// <summary>Grants on <paramref name="replica"/> until the first refusal.</summary>
    private static async Task<List<GetBudgetResponse>> GrantUntilRefusedAsync(ServerProcess replica, string org)
    {
        var grants = new List<GetBudgetResponse>();
        while (true)
        {
            try
            {
                grants.Add(await replica.Budgets.GetBudgetAsync(Ask(org)));
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.ResourceExhausted)
            {
                return grants;
            }
        }
    }

    /// <summary>Asks <paramref name="replica"/> until it has granted <paramref name="count"/> (refusals are retried).</summary>
    private static async Task<List<GetBudgetResponse>> GrantCountAsync(ServerProcess replica, string org, int count, TimeSpan timeout)
    {
        var grants = new List<GetBudgetResponse>();
        var clock = Stopwatch.StartNew();
        while (grants.Count < count && clock.Elapsed < timeout)
        {
            try
            {
                grants.Add(await replica.Budgets.GetBudgetAsync(Ask(org)));
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.ResourceExhausted)
            {
                await Task.Delay(10);
            }
        }

        return grants;
    }

    /// <summary>Asks the replicas in turn for <paramref name="timeout"/>; the grants, and when each came (on <paramref name="clock"/>).</summary>
    private static async Task<(List<GetBudgetResponse> Grants, List<TimeSpan> At)> DrainAsync(ServerProcess[] replicas, string org, TimeSpan timeout, Stopwatch clock)
    {
        var grants = new List<GetBudgetResponse>();
        var at = new List<TimeSpan>();
        var until = clock.Elapsed + timeout;
        for (var i = 0; clock.Elapsed < until; i++)
        {
            try
            {
                grants.Add(await replicas[i % replicas.Length].Budgets.GetBudgetAsync(Ask(org)));
                at.Add(clock.Elapsed);
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.ResourceExhausted)
            {
                await Task.Delay(20);
            }
        }

        return (grants, at);
    }

    private static async Task AssertRefusedAsync(ServerProcess replica, string org)
    {
        var refused = await Assert.ThrowsAsync<RpcException>(() => replica.Budgets.GetBudgetAsync(Ask(org)).ResponseAsync);
        Assert.Equal(StatusCode.ResourceExhausted, refused.StatusCode);
    }

    private static async Task UntilAsync(Func<Task<bool>> condition, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (!await condition())
        {
            Assert.True(clock.Elapsed < timeout, $"not so within {timeout.TotalSeconds} s");
            await Task.Delay(10);
        }
    }

    /// <summary>What the replica's usage summary says the org's quota has reserved now.</summary>
    private static async Task<long> ReservedAsync(ServerProcess replica, string org) =>
        Assert.Single((await replica.Admin.GetUsageSummaryAsync(new GetUsageSummaryRequest { OrgId = org })).Quotas).Reserved;

    /// <summary>The replica's taskbudgets_active_reservations gauge, from its /metrics.</summary>
    private static async Task<long> ActiveReservationsAsync(ServerProcess replica)
    {
        using var http = new HttpClient { BaseAddress = replica.HttpAddress };
        var text = await http.GetStringAsync(new Uri("/metrics", UriKind.Relative));
        var match = ActiveReservations().Match(text);
        Assert.True(match.Success, "no taskbudgets_active_reservations in /metrics");
        return long.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// The victim's lease on the counter's window: its balance and its declared hold. It is the one
    /// renewed longest ago: before it stops, the victim alone has one; after, it alone stopped renewing.
    /// </summary>
    private async Task<(long Balance, long Held)> VictimLeaseAsync(string counterKey)
    {
        var row = await fleet!.QueryAsync(
            """
            SELECT COALESCE(SUM("Amount" - "DebitedByOwner" - "DebitedByOthers" - "Reclaimed"), 0)::bigint, COALESCE(SUM("Held"), 0)::bigint
            FROM capacity_leases WHERE "CounterKey" = @k AND "ReplicaId" = (
                SELECT "ReplicaId" FROM capacity_leases WHERE "CounterKey" = @k ORDER BY "RenewedAtMs" LIMIT 1)
            """,
            ("k", counterKey));
        return (row[0], row[1]);
    }

    /// <summary>Waits until the victim's lease holds at least a grant's worth beyond its declared hold.</summary>
    private async Task<(long Balance, long Held)> UntilFreeAsync(string counterKey)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var (balance, held) = await VictimLeaseAsync(counterKey);
            if (balance - held >= Grant)
            {
                return (balance, held);
            }

            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"the victim's lease never held free capacity: balance {balance}, hold {held}");
            await Task.Delay(100);
        }
    }

    [GeneratedRegex(@"^taskbudgets_active_reservations(?:\{[^}]*\})? (\d+)", RegexOptions.Multiline)]
    private static partial Regex ActiveReservations();
}
