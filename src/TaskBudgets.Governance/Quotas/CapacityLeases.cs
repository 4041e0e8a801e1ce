using Microsoft.Extensions.Options;
using TaskBudgets.Governance.Storage;
using TaskBudgets.Governance.Telemetry;

namespace TaskBudgets.Governance.Quotas;

/// <summary>
/// Leases as this replica's buckets see them: how much to grow or return, what hold to declare,
/// and what the database's answer means for the bucket. <see cref="LeaseRows"/> writes them; the
/// database refuses a lease past a window's limit and a hold a lease's balance does not cover.
/// Callers hold the bucket's <see cref="QuotaBucket.LeaseGate"/>.
/// </summary>
public sealed partial class CapacityLeases(
    LeaseRows rows,
    IOptions<LeaseOptions> options,
    TimeProvider time,
    ReplicaIdentity replica,
    GovernanceMetrics metrics,
    ILogger<CapacityLeases> logger)
{
    private readonly LeaseOptions options = options.Value;

    /// <summary>Leases:HoldAhead in renewal intervals: how much of its recent use a hold's allowance covers.</summary>
    public double HoldAheadIntervals => options.HoldAhead / options.RenewInterval;

    /// <summary>
    /// Grows the bucket's lease by <paramref name="wanted"/>, or by less if the window has less left,
    /// but never by less than <paramref name="needed"/>, and declares a hold that covers a grant of
    /// <paramref name="holdFor"/> (0 when none waits). Returns what was added (0: refused).
    /// </summary>
    /// <param name="forGrant">A grant is waiting for it (else the renewal grows ahead of need); for the metric.</param>
    /// <param name="counter">
    /// The window's counter as the caller has just read it (the renewal pass), so the first attempt
    /// need not read it again; the conditional update still refuses what the window no longer has.
    /// </param>
    public async Task<long> GrowAsync(QuotaBucket bucket, long needed, long holdFor, long wanted, bool forGrant, (long Consumed, long Leased)? counter, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var expires = now + (long)options.Ttl.TotalMilliseconds;
        // Near a limit, replicas growing and taking back at once change the counter and each
        // other's leases under one another: each retry reads again, so a few more are cheap.
        for (var attempt = 0; attempt < 6; attempt++)
        {
            var (outcome, amount) = await TryGrowOnceAsync(bucket, needed, holdFor, wanted, now, expires, forGrant, attempt == 0 ? counter : null, cancellationToken);
            switch (outcome)
            {
                case LeaseGrowthOutcome.Extended or LeaseGrowthOutcome.Created:
                    return amount;
                case LeaseGrowthOutcome.Refused:
                    return 0;
                case LeaseGrowthOutcome.LeaseExpired:
                    // Outside the write gate: reclaiming takes it too.
                    await ReclaimExpiredAsync(cancellationToken);
                    bucket.LeaseLost();
                    break;
            }
        }

        LogGrowGaveUp(logger, bucket.CounterKey);
        return 0;
    }

    private async Task<(LeaseGrowthOutcome Outcome, long Amount)> TryGrowOnceAsync(
        QuotaBucket bucket, long needed, long holdFor, long wanted, long now, long expires, bool forGrant, (long Consumed, long Leased)? known, CancellationToken cancellationToken)
    {
        var limit = bucket.Quota.Limit;
        HoldDeclaration declaration = default;
        LeasePlan? Plan((long Consumed, long Leased) counter, LeaseTakings? takings)
        {
            if (takings is { } read)
            {
                bucket.Observe(new LeaseState(read.DebitedByOthers, read.Reclaimed), counter.Consumed, counter.Leased, time.GetUtcNow());
            }

            var pool = limit - counter.Consumed - counter.Leased;
            if (pool < needed)
            {
                metrics.LeaseGrown(succeeded: false, forGrant);
                return null;
            }

            // Beyond the immediate need, take at most a share of what is left: near the limit,
            // the rest stays available to other replicas.
            // Near the limit, only the need: more would be free capacity other replicas take back as
            // soon as their own grants find the pool empty.
            var extra = LeaseSizing.NearLimit(pool, limit) ? 0 : Math.Max(0, wanted - needed);
            var cap = (long)((pool - needed) * options.MaxPoolShare);
            var amount = needed + Math.Min(extra, cap);
            if (amount <= 0)
            {
                return null;
            }

            declaration = bucket.BeginDeclaration(holdFor, bucket.Allowance(HoldAheadIntervals), growth: amount);
            return new LeasePlan(amount, declaration.Held, declaration.Reserved);
        }

        var growth = await rows.TryGrowAsync(Key(bucket), replica.Id, limit, known, Plan, now, expires, cancellationToken);
        if (growth.Outcome is not (LeaseGrowthOutcome.Extended or LeaseGrowthOutcome.Created))
        {
            return (growth.Outcome, 0);
        }

        if (growth.Outcome == LeaseGrowthOutcome.Created)
        {
            bucket.LeaseLost();
        }

        var amount = growth.Written.Amount;
        bucket.AddLeased(amount);
        bucket.Declared(declaration with { Held = growth.Written.Held, Reserved = growth.Written.Reserved });
        bucket.Observe(default, growth.Counter.Consumed, growth.Counter.Leased + amount, time.GetUtcNow());
        metrics.LeaseGrown(succeeded: true, forGrant);
        return (growth.Outcome, amount);
    }

    /// <summary>
    /// Declares a hold that covers a grant of <paramref name="needed"/> out of the lease as it is.
    /// False when the database refuses (the lease is gone, or its balance is less than this replica
    /// thought, which it has now read): the caller grows the lease instead.
    /// </summary>
    public async Task<bool> DeclareAsync(QuotaBucket bucket, long needed, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var declaration = bucket.BeginDeclaration(needed, bucket.Allowance(HoldAheadIntervals));
        if (declaration.Held - declaration.Reserved < needed)
        {
            return false;
        }

        var declared = await rows.DeclareAsync(bucket.LeaseId, declaration.Held, declaration.Reserved, now, cancellationToken);
        metrics.LeaseOperation("declare", declared);
        if (declared)
        {
            bucket.Declared(declaration);
            return true;
        }

        var (counter, takings) = await rows.ReadAsync(Key(bucket), cancellationToken);
        bucket.Observe(State(takings), counter.Consumed, counter.Leased, time.GetUtcNow());
        return false;
    }

    /// <summary>
    /// Returns up to <paramref name="amount"/> of the lease's free capacity to the window, keeping
    /// the hold's allowance (none when <paramref name="keepAllowance"/> is false, as when a window
    /// ends or the replica stops).
    /// </summary>
    public async Task<long> ReturnAsync(QuotaBucket bucket, long amount, bool keepAllowance, CancellationToken cancellationToken)
    {
        var declaration = bucket.BeginDeclaration(0, keepAllowance ? bucket.Allowance(HoldAheadIntervals) : 0);
        var taken = bucket.TakeFree(amount);
        if (taken == 0)
        {
            return 0;
        }

        var returned = false;
        try
        {
            var now = time.GetUtcNow().ToUnixTimeMilliseconds();
            returned = await rows.ShrinkAsync(Key(bucket), taken, declaration.Held, declaration.Reserved, now, cancellationToken);
            if (returned)
            {
                bucket.Declared(declaration);
            }

            metrics.LeaseOperation("return", succeeded: true);
            return returned ? taken : 0;
        }
        catch
        {
            metrics.LeaseFailed("return");
            throw;
        }
        finally
        {
            if (!returned)
            {
                // Not returned (refused: the balance is not what this replica thought, or failed):
                // the capacity is the lease's still, as far as this replica can tell.
                bucket.AddLeased(taken);
            }
        }
    }

    /// <summary>
    /// Renews the live leases of <paramref name="buckets"/> in one transaction, declaring each one's
    /// hold (its live grants and an allowance), then reads, for the renewal pass, this replica's
    /// grants that other replicas ended, what they debited from and took back of its leases, and
    /// the windows' counters.
    /// </summary>
    public async Task<LeaseReadings> RenewAllAsync(IReadOnlyCollection<QuotaBucket> buckets, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var expires = now + (long)options.Ttl.TotalMilliseconds;
        var owned = buckets.Where(b => b.HoldsLease).OrderBy(b => b.LeaseId, StringComparer.Ordinal).ToList();

        // Each bucket's gate, in id order, while its hold is declared: declarations of one lease never overlap.
        var gates = new List<SemaphoreSlim>(owned.Count);
        try
        {
            foreach (var bucket in owned)
            {
                await bucket.LeaseGate.WaitAsync(cancellationToken);
                gates.Add(bucket.LeaseGate);
            }

            // A window leased ahead stays held whole until it starts: it is there to grant from
            // when the database is away at the rollover.
            var at = time.GetUtcNow();
            var declarations = owned.Select(b => b.BeginDeclaration(0, at < b.WindowStart ? long.MaxValue : b.Allowance(HoldAheadIntervals))).ToList();
            var renewals = owned.Select((b, i) => new LeaseRenewalRow(b.LeaseId, declarations[i].Held, declarations[i].Reserved)).ToList();
            var (renewed, declared) = await rows.RenewAllAsync(renewals, expires, now, cancellationToken);
            for (var i = 0; i < owned.Count; i++)
            {
                if (declared[i])
                {
                    owned[i].Declared(declarations[i]);
                }
            }

            metrics.LeaseOperation("renew", succeeded: true, renewed.Count(r => r));
        }
        finally
        {
            foreach (var gate in gates)
            {
                gate.Release();
            }
        }

        // Notices first, leases after (in one read): the debit of every grant noticed is taken in
        // before its reservation is freed, so this replica never sees more room than there is.
        // A lease extended just now expires at `expires` or later (a grow since extends it further);
        // one that expires sooner was lost, or created by a grow racing this pass: renewed on its own.
        var keys = buckets.Select(b => b.CounterKey).Distinct().ToList();
        var windows = buckets.Select(b => b.WindowStartUnix).Distinct().ToList();
        var read = await rows.ReadAfterRenewalAsync(replica.Id, expires, now, keys, windows, cancellationToken);
        return new LeaseReadings(
            read.Takings.ToDictionary(l => l.Key, l => State(l.Value), StringComparer.Ordinal),
            read.Counters,
            read.OthersFree,
            Settled(read.Notices),
            time.GetUtcNow());
    }

    /// <summary>
    /// Between renewal passes, when a grant finds too little: this replica's grants that other
    /// replicas settled or released since the last pass, after taking in what those did to its
    /// leases (their debits, and capacity they took back), so the caller can free them at once.
    /// </summary>
    public async Task<IReadOnlyList<SettledGrant>> TakeSettledElsewhereAsync(IEnumerable<QuotaBucket> buckets, CancellationToken cancellationToken)
    {
        var settled = await TakeNoticesAsync(cancellationToken);
        if (settled.Count == 0)
        {
            return settled;
        }

        var states = await rows.ReadTakingsOfAsync(replica.Id, long.MinValue, cancellationToken);
        foreach (var bucket in buckets)
        {
            if (states.TryGetValue(bucket.LeaseId, out var state))
            {
                bucket.ObserveLease(State(state));
            }
        }

        return settled;
    }

    /// <summary>Reads and deletes this replica's notices of grants ended elsewhere.</summary>
    private async Task<List<SettledGrant>> TakeNoticesAsync(CancellationToken cancellationToken) =>
        Settled(await rows.TakeNoticesAsync(replica.Id, cancellationToken));

    private static List<SettledGrant> Settled(IEnumerable<(string GrantId, long ExpiresAtMs)> notices) =>
        notices.Select(n => new SettledGrant(new Guid(Convert.FromHexString(n.GrantId)), DateTimeOffset.FromUnixTimeMilliseconds(n.ExpiresAtMs))).ToList();

    /// <summary>
    /// Extends the lease and reads what other replicas did. False when there is no lease: it was
    /// lost, or (a window new to this replica) there never was one, and then only the window's
    /// counter is read.
    /// </summary>
    public async Task<bool> RenewAsync(QuotaBucket bucket, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var expires = now + (long)options.Ttl.TotalMilliseconds;
        var hadLease = bucket.HoldsLease;
        var renewal = await rows.RenewAsync(Key(bucket), hadLease, replica.Id, now, expires, cancellationToken);
        if (hadLease)
        {
            // Only a lease that was held and is gone is a refused renewal: counting the first read
            // of every new window as one made a healthy replica show refusals at each window's start.
            metrics.LeaseOperation("renew", renewal.Renewed);
        }

        if (!renewal.Renewed)
        {
            bucket.LeaseLost();
            bucket.Observe(default, renewal.Counter.Consumed, renewal.Counter.Leased, time.GetUtcNow(), renewal.OthersFree);
            return false;
        }

        bucket.Observe(State(renewal.Takings), renewal.Counter.Consumed, renewal.Counter.Leased, time.GetUtcNow(), renewal.OthersFree);
        return true;
    }

    /// <summary>
    /// Gives the capacity of expired leases (of dead or stalled replicas) back to their windows,
    /// and forgets notices for grants that have long expired (their issuers are gone, or freed them).
    /// </summary>
    public async Task<int> ReclaimExpiredAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var reclaimed = await rows.ReclaimExpiredAsync(now, now - (long)options.Ttl.TotalMilliseconds, cancellationToken);
        if (reclaimed > 0)
        {
            metrics.LeaseOperation("reclaim", succeeded: true);
            LogReclaimed(logger, reclaimed);
        }

        return reclaimed;
    }

    /// <summary>
    /// Takes back the free part of other replicas' leases, what is beyond their declared holds:
    /// of replicas silent for Leases:ReclaimFreeAfter (<paramref name="window"/> null), or, when a
    /// grant here finds its window's pool empty, of every other replica's lease on that window.
    /// The holds stay, so no owner loses what it may still grant from.
    /// </summary>
    public async Task<long> ReclaimFreeAsync((string CounterKey, long WindowStart)? window, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var silentSince = now - (long)options.ReclaimFreeAfter.TotalMilliseconds;
        var (total, looked) = await rows.ReclaimFreeAsync(replica.Id, window, silentSince, now, cancellationToken);
        if (total > 0)
        {
            metrics.LeaseOperation(window is null ? "reclaim_silent" : "reclaim_for_grant", succeeded: true);
            if (window is null)
            {
                LogReclaimedFree(logger, total, looked);
            }
        }

        return total;
    }

    private static LeaseKey Key(QuotaBucket bucket) => new(bucket.LeaseId, bucket.CounterKey, bucket.WindowStartUnix);

    private static LeaseState State(LeaseTakings takings) => new(takings.DebitedByOthers, takings.Reclaimed);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not grow the lease on {CounterKey}: the counter kept changing.")]
    private static partial void LogGrowGaveUp(ILogger logger, string counterKey);

    [LoggerMessage(Level = LogLevel.Information, Message = "Reclaimed {Count} expired capacity leases.")]
    private static partial void LogReclaimed(ILogger logger, int count);

    [LoggerMessage(Level = LogLevel.Information, Message = "Took back {Amount} of free capacity from {Count} leases of replicas that stopped renewing.")]
    private static partial void LogReclaimedFree(ILogger logger, long amount, int count);
}
