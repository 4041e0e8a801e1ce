using Grpc.Core;
using Npgsql;
using TaskBudgets.Governance.Tests.Infrastructure;
using TaskBudgets.V1;

namespace TaskBudgets.Governance.Tests.Processes;

/// <summary>
/// Several real server processes on one real PostgreSQL: grants stay within every limit, any
/// replica settles any grant once, and a killed replica loses nothing acknowledged.
/// </summary>
public sealed class ReplicaTests(PostgresServer postgres) : IAsyncDisposable
{
    private static readonly string Policy = TestPolicy.FixedGrant("""
          - id: shared
            tier: standard
            quotas:
              - metric: reasoning_tokens
                window: day
                limit: 300000
          - id: minutely
            tier: standard
            quotas:
              - metric: reasoning_tokens
                window: minute
                limit: 1000000000
              - metric: requests
                window: minute
                limit: 400
          - id: roomy
            tier: standard
            quotas:
              - metric: reasoning_tokens
                window: day
                limit: 1000000000
        """);

    private ReplicaFleet? fleet;

    private List<ServerProcess> replicas => fleet!.Replicas;

    private string connectionString => fleet!.ConnectionString;

    /// <summary>Starts three replicas; grants and leases live as long as the test needs.</summary>
    private async Task StartReplicasAsync(TimeSpan grantTtl, string? demandHorizon = null)
    {
        var settings = new Dictionary<string, string>
        {
            ["Leases:RenewInterval"] = "00:00:00.200",
            ["Grants:Ttl"] = grantTtl.ToString("c", System.Globalization.CultureInfo.InvariantCulture),
            ["Leases:Ttl"] = (grantTtl + TimeSpan.FromSeconds(1)).ToString("c", System.Globalization.CultureInfo.InvariantCulture),
        };
        if (demandHorizon is not null)
        {
            settings["Leases:DemandHorizon"] = demandHorizon;
        }

        fleet = await ReplicaFleet.StartAsync(postgres, Policy, 3, settings);
    }

    public async ValueTask DisposeAsync()
    {
        if (fleet is not null)
        {
            await fleet.DisposeAsync();
        }
    }

    private static GetBudgetRequest Ask(string org) => new() { OrgId = org, TaskType = "t", Model = "claude-test" };

    private Task<(long Consumed, long Leased)> CounterAsync(string key) => fleet!.CounterAsync(key);

    /// <summary>One short call: a grant, then its report (the answer's tokens are ten more than the reasoning).</summary>
    private static async Task CallAsync(ServerProcess replica, string org, long reasoningUsed)
    {
        var grant = await replica.Budgets.GetBudgetAsync(Ask(org));
        await replica.Budgets.ReportUsageAsync(new ReportUsageRequest
        {
            GrantId = grant.GrantId,
            Usage = new UsageTokens { OutputTokens = reasoningUsed + 10, ReasoningTokens = reasoningUsed },
            StopReason = StopReason.EndTurn,
        });
    }

    private static async Task<long> TryGrantAsync(ServerProcess replica, string org)
    {
        try
        {
            return (await replica.Budgets.GetBudgetAsync(Ask(org))).Budget.ReasoningTokens;
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.ResourceExhausted)
        {
            return 0;
        }
    }

    [Fact]
    public async Task Grants_across_replicas_never_pass_the_limit_and_leave_no_capacity_stranded()
    {
        // Grants outlive the test: none expires and gives its capacity back midway.
        await StartReplicasAsync(TimeSpan.FromMinutes(5));

        // 48 concurrent clients spread over three replicas ask for 400 grants of 1024 (the model's
        // thinking floor) against 300,000.
        var next = 0;
        var granted = await Task.WhenAll(Enumerable.Range(0, 48).Select(async client =>
        {
            long sum = 0;
            int i;
            while ((i = Interlocked.Increment(ref next)) <= 400)
            {
                sum += await TryGrantAsync(replicas[i % replicas.Count], "shared");
            }

            return sum;
        }));

        Assert.True(granted.Sum() <= 300_000, $"granted {granted.Sum()} of 300000");
        var (consumed, leased) = await CounterAsync("shared:reasoning_tokens:day");
        Assert.True(consumed + leased <= 300_000);

        // Idle replicas hand unneeded capacity back within a few renewal passes, so the last grants
        // still come through somewhere. Leases here live 5 minutes: capacity that is stranded stays
        // so for far longer than this test waits.
        long more = 0;
        var deadline = DateTime.UtcNow.AddSeconds(20);
        for (var round = 0; granted.Sum() + more <= 300_000 - 1024 && DateTime.UtcNow < deadline; round++)
        {
            var got = await TryGrantAsync(replicas[round % replicas.Count], "shared");
            more += got;
            if (got == 0)
            {
                await Task.Delay(50);
            }
        }

        Assert.True(granted.Sum() + more <= 300_000);
        Assert.True(granted.Sum() + more > 300_000 - 1024, $"only {granted.Sum()} + {more} of 300000 could be granted: capacity is stranded\n" + string.Join("\n", replicas.Select(r => r.Output[^Math.Min(3000, r.Output.Length)..])));
        AssertNoDeadlocks();
    }

    [Fact]
    public async Task Short_calls_on_two_replicas_leave_the_third_room_while_the_quota_is_far_from_used()
    {
        // Five renewal passes of demand (200 ms each): short calls give their reservation back.
        await StartReplicasAsync(TimeSpan.FromMinutes(1), demandHorizon: "00:00:01");

        // At least 400 calls (409,600 tokens reserved in all, more than the limit) over at least
        // 3 s (many renewal passes); a slow machine takes longer rather than fewer calls.
        var calls = 0L;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        using var giveUp = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await Task.WhenAll(Enumerable.Range(0, 8).Select(async client =>
        {
            var replica = replicas[client % 2];
            while (!giveUp.IsCancellationRequested && (Interlocked.Read(ref calls) < 400 || clock.Elapsed < TimeSpan.FromSeconds(3)))
            {
                await CallAsync(replica, "shared", reasoningUsed: 10);
                Interlocked.Increment(ref calls);
            }
        }));

        // Hundreds of calls reserved far more than the limit in all, but held at most four at a
        // time on each replica: the leases hold about that, and the window stays open to others.
        var (consumed, leased) = await CounterAsync("shared:reasoning_tokens:day");
        Assert.True(calls >= 400, $"only {calls} calls in {clock.Elapsed.TotalSeconds:F0} s");
        Assert.Equal(calls * 10, consumed);
        Assert.True(leased < 100_000, $"{leased} of 300000 leased for {calls} calls held four at a time per replica");
        var third = await replicas[2].Budgets.GetBudgetAsync(Ask("shared"));
        Assert.True(third.Budget.ReasoningTokens >= 1000);
    }

    [Fact]
    public async Task A_report_retried_on_every_replica_counts_once()
    {
        await StartReplicasAsync(TimeSpan.FromMinutes(1));
        var grant = await replicas[0].Budgets.GetBudgetAsync(Ask("roomy"));
        var report = new ReportUsageRequest
        {
            GrantId = grant.GrantId,
            Usage = new UsageTokens { InputTokens = 5, OutputTokens = 900, ReasoningTokens = 777 },
            StopReason = StopReason.EndTurn,
        };

        var answers = await Task.WhenAll(Enumerable.Range(0, 12).Select(i => replicas[i % replicas.Count].Budgets.ReportUsageAsync(report).ResponseAsync));

        Assert.Single(answers, a => !a.Duplicate);
        Assert.Equal(777, (await CounterAsync("roomy:reasoning_tokens:day")).Consumed);
    }

    [Fact]
    public async Task After_kill_9_acknowledged_reports_are_kept_the_dead_lease_returns_and_the_others_keep_serving()
    {
        // Short lives, so the dead replica's lease expires within the test: 2 s grants, 3 s leases.
        await StartReplicasAsync(TimeSpan.FromSeconds(2));
        var errors = new System.Collections.Concurrent.ConcurrentBag<StatusCode>();
        var victim = replicas[2];
        var acknowledged = 0L;
        using var stop = new CancellationTokenSource();
        var load = Enumerable.Range(0, 12).Select(async client =>
        {
            var replica = replicas[client % replicas.Count];
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    await CallAsync(replica, "shared", reasoningUsed: 1);
                    Interlocked.Increment(ref acknowledged);
                }
                catch (RpcException) when (ReferenceEquals(replica, victim) || stop.IsCancellationRequested)
                {
                    return;
                }
                catch (RpcException e)
                {
                    errors.Add(e.StatusCode);
                    await Task.Delay(10);
                }
            }
        }).ToList();

        while (Interlocked.Read(ref acknowledged) < 200)
        {
            await Task.Delay(20);
        }

        // The victim holds a lease; kill it without a chance to hand anything back. Under this load
        // the two others can hold the whole pool for a moment (the victim then answers "1 of 300000
        // left"), until a renewal pass returns their surplus: so the victim gets some seconds.
        var holding = DateTime.UtcNow.AddSeconds(10);
        while (await TryGrantAsync(victim, "shared") == 0)
        {
            Assert.True(DateTime.UtcNow < holding, "the victim got no grant within 10 s while the quota was far from used");
            await Task.Delay(100);
        }

        await victim.KillAsync();
        var afterKill = Interlocked.Read(ref acknowledged);
        await Task.Delay(3000);
        Assert.True(Interlocked.Read(ref acknowledged) > afterKill, "the surviving replicas stopped serving: " + string.Join(", ", errors.GroupBy(e => e).Select(g => $"{g.Key} x{g.Count()}")));
        await stop.CancelAsync();
        await Task.WhenAll(load);

        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using (var count = new NpgsqlCommand("SELECT COUNT(*) FROM settlements", connection))
        {
            Assert.True((long)(await count.ExecuteScalarAsync())! >= Interlocked.Read(ref acknowledged));
        }

        // Within the lease TTL (3 s) plus a renewal, the dead replica's lease is reclaimed.
        var deadline = DateTime.UtcNow.AddSeconds(8);
        long leftover;
        do
        {
            await Task.Delay(250);
            await using var leases = new NpgsqlCommand("""SELECT COUNT(*) FROM capacity_leases WHERE "ExpiresAtMs" <= (extract(epoch from now()) * 1000)::bigint""", connection);
            leftover = (long)(await leases.ExecuteScalarAsync())!;
        }
        while (leftover > 0 && DateTime.UtcNow < deadline);

        Assert.Equal(0, leftover);
        // One statement, one snapshot: the counter's Leased is the sum of the live leases' balances.
        await using var snapshot = new NpgsqlCommand("""
            SELECT (SELECT COALESCE(SUM("Leased"), 0)::bigint FROM quota_counters WHERE "CounterKey" = 'shared:reasoning_tokens:day'),
                   (SELECT COALESCE(SUM("Amount" - "DebitedByOwner" - "DebitedByOthers" - "Reclaimed"), 0)::bigint FROM capacity_leases WHERE "CounterKey" = 'shared:reasoning_tokens:day'),
                   (SELECT COALESCE(SUM("Consumed"), 0)::bigint FROM quota_counters WHERE "CounterKey" = 'shared:reasoning_tokens:day')
            """, connection);
        await using var state = await snapshot.ExecuteReaderAsync();
        await state.ReadAsync();
        var (leased, live, consumed) = (state.GetInt64(0), state.GetInt64(1), state.GetInt64(2));
        Assert.Equal(live, leased);
        Assert.True(consumed + leased <= 300_000);
    }

    [Fact]
    public async Task A_window_rollover_under_load_neither_loses_nor_double_counts()
    {
        await StartReplicasAsync(TimeSpan.FromMinutes(1));

        // Run from about 4 s before a minute boundary to 4 s after it, so grants and reports of
        // both windows interleave on every replica.
        var now = DateTime.UtcNow;
        var boundary = new DateTime(now.Year, now.Month, now.Day, now.Hour, now.Minute, 0, DateTimeKind.Utc).AddMinutes(1);
        if (boundary - now > TimeSpan.FromSeconds(4))
        {
            await Task.Delay(boundary - now - TimeSpan.FromSeconds(4));
        }

        var acknowledged = 0L;
        var denied = 0L;
        var until = boundary.AddSeconds(4);
        await Task.WhenAll(Enumerable.Range(0, 12).Select(async client =>
        {
            while (DateTime.UtcNow < until)
            {
                GetBudgetResponse grant;
                try
                {
                    grant = await replicas[client % replicas.Count].Budgets.GetBudgetAsync(Ask("minutely"));
                }
                catch (RpcException e) when (e.StatusCode == StatusCode.ResourceExhausted)
                {
                    Interlocked.Increment(ref denied);
                    await Task.Delay(20);
                    continue;
                }

                // Settled on another replica than the one that granted it.
                await replicas[(client + 1) % replicas.Count].Budgets.ReportUsageAsync(new ReportUsageRequest
                {
                    GrantId = grant.GrantId,
                    Usage = new UsageTokens { OutputTokens = 20, ReasoningTokens = 7 },
                    StopReason = StopReason.EndTurn,
                });
                Interlocked.Increment(ref acknowledged);
            }
        }));

        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        var windows = new Dictionary<string, List<(long Start, long Consumed)>>();
        await using (var read = new NpgsqlCommand("""SELECT "CounterKey", "WindowStart", "Consumed" FROM quota_counters WHERE "CounterKey" LIKE 'minutely:%' ORDER BY "WindowStart" """, connection))
        await using (var rows = await read.ExecuteReaderAsync())
        {
            while (await rows.ReadAsync())
            {
                var key = rows.GetString(0);
                windows.TryAdd(key, []);
                windows[key].Add((rows.GetInt64(1), rows.GetInt64(2)));
            }
        }

        await using var count = new NpgsqlCommand("""SELECT COUNT(*) FROM settlements WHERE "OrgId" = 'minutely'""", connection);
        var settled = (long)(await count.ExecuteScalarAsync())!;
        var reasoning = windows["minutely:reasoning_tokens:minute"];
        var requests = windows["minutely:requests:minute"];

        Assert.True(reasoning.Count(w => w.Consumed > 0) >= 2, $"the load did not cross a window boundary: {string.Join(", ", reasoning)}");
        Assert.Equal(acknowledged, settled);
        Assert.Equal(acknowledged * 7, reasoning.Sum(w => w.Consumed));
        Assert.Equal(acknowledged, requests.Sum(w => w.Consumed));
        Assert.All(requests, w => Assert.True(w.Consumed <= 400, $"window {w.Start} counted {w.Consumed} requests of 400"));
        AssertNoDeadlocks();
    }

    private void AssertNoDeadlocks()
    {
        fleet!.AssertNoDeadlocks();
        fleet.AssertNoErrors();
    }
}
