using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using TaskBudgets.Governance.Budgeting;

namespace TaskBudgets.Governance.Quotas;

/// <summary>
/// This replica's quota buckets, one per quota window in use, and the all-or-nothing
/// reservation of a grant across every quota that applies to it.
/// </summary>
public sealed class QuotaLedger(CapacityLeases leases, ReplicaIdentity replica, IOptions<LeaseOptions> options)
{
    private readonly ConcurrentDictionary<(string CounterKey, long Window), QuotaBucket> buckets = new();
    private readonly int grantsAhead = options.Value.GrantsAhead;
    private readonly TimeSpan serveWithoutDatabaseFor = options.Value.ServeWithoutDatabaseFor;
    private readonly double horizonIntervals = options.Value.DemandHorizon / options.Value.RenewInterval;

    public ICollection<QuotaBucket> Buckets => buckets.Values;

    /// <summary>The bucket of <paramref name="quota"/>'s window that contains <paramref name="now"/>.</summary>
    public QuotaBucket BucketFor(QuotaDefinition quota, string subject, DateTimeOffset now)
    {
        var start = WindowCalendar.StartOf(quota.Window, now);
        var key = (quota.CounterKey(subject), start.ToUnixTimeSeconds());
        if (buckets.TryGetValue(key, out var bucket))
        {
            if (!ReferenceEquals(bucket.Quota, quota))
            {
                bucket.UpdateQuota(quota);
            }

            return bucket;
        }

        return Open(key, quota, subject, start);
    }

    // Apart from BucketFor, so the closure is allocated only when a window opens, not on every grant.
    private QuotaBucket Open((string CounterKey, long Window) key, QuotaDefinition quota, string subject, DateTimeOffset start) =>
        buckets.GetOrAdd(key, k => new QuotaBucket(quota, subject, start, QuotaDefinition.LeaseIdOf(replica.Id, k.CounterKey, k.Window), DemandBefore(k.CounterKey, quota.Window, start)));

    // A busy counter's new window starts with the demand of the window before it. Starting from
    // none, every grant of a new minute took a few grants' worth from the database under the
    // bucket's gate until a renewal pass sized the lease: hundreds of writes at each rollover.
    private long DemandBefore(string counterKey, WindowKind window, DateTimeOffset start)
    {
        var previous = WindowCalendar.StartOf(window, start.AddTicks(-1)).ToUnixTimeSeconds();
        return buckets.TryGetValue((counterKey, previous), out var bucket) ? bucket.DemandNow().Demand : 0;
    }

    /// <summary>Finds a bucket by its counter, for settling a grant this replica issued.</summary>
    public QuotaBucket? Find(string counterKey, long windowStartUnix) =>
        buckets.TryGetValue((counterKey, windowStartUnix), out var bucket) ? bucket : null;

    public void Forget(QuotaBucket bucket) => buckets.TryRemove(KeyValuePair.Create((bucket.CounterKey, bucket.WindowStartUnix), bucket));

    /// <summary>
    /// Makes sure a bucket has seen the database lately (Leases:ServeWithoutDatabaseFor), so its
    /// headroom is real. Normally renewal keeps it so; when the database is away, this fails and
    /// the grant fails closed instead of granting from a view that has grown stale.
    /// </summary>
    public async ValueTask EnsureSyncedAsync(QuotaBucket bucket, DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (bucket.SyncedWithin(now, serveWithoutDatabaseFor))
        {
            return;
        }

        await bucket.LeaseGate.WaitAsync(cancellationToken);
        try
        {
            if (!bucket.SyncedWithin(now, serveWithoutDatabaseFor))
            {
                await leases.RenewAsync(bucket, cancellationToken);
            }
        }
        finally
        {
            bucket.LeaseGate.Release();
        }
    }

    /// <summary>
    /// Before a quota denial: takes back the free part of other replicas' leases on the window and
    /// reads the window again, so no call is refused while capacity sits unused in a lease that
    /// another replica has not declared it may grant from. Denials on one window at the same time
    /// share one look, so a quota that is really used up costs the database one look at a time.
    /// </summary>
    /// <returns>True when this caller looked; false when it waited for a look that began before it asked.</returns>
    public async ValueTask<bool> RecheckBeforeDenialAsync(QuotaBucket bucket, GrantBook book, CancellationToken cancellationToken)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var (check, mine) = bucket.JoinDenialCheck(done.Task);
        if (!mine)
        {
            await check.WaitAsync(cancellationToken);
            return false;
        }

        try
        {
            await FreeSettledElsewhereAsync(book, CancellationToken.None);
            await bucket.LeaseGate.WaitAsync(CancellationToken.None);
            try
            {
                await leases.ReclaimFreeAsync((bucket.CounterKey, bucket.WindowStartUnix), CancellationToken.None);
                await leases.RenewAsync(bucket, CancellationToken.None);
            }
            finally
            {
                bucket.LeaseGate.Release();
            }
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // A second look, not a promise: with the database away the denial stands as decided.
        }
        finally
        {
            // Those who joined decide again whether this look worked or not; a failure is this caller's.
            done.SetResult();
        }

        return true;
    }

    /// <summary>
    /// Frees at once this replica's grants that other replicas settled or released since the last
    /// renewal pass, for a grant that found too little: their reservations may be what it lacks.
    /// </summary>
    public async Task<int> FreeSettledElsewhereAsync(GrantBook book, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(book);
        return book.ReleaseSettledElsewhere(await leases.TakeSettledElsewhereAsync(Buckets, cancellationToken));
    }

    /// <summary>
    /// Reserves <paramref name="amounts"/>[i] on <paramref name="targets"/>[i], all or none. In the common
    /// case this is memory only; a bucket whose declared hold is short declares a larger one, and one
    /// whose lease is short takes more capacity from the database, first from the window's pool,
    /// then from the free part of other replicas' leases. Returns false when the database refuses:
    /// a window has less left than asked.
    /// </summary>
    public async ValueTask<bool> TryReserveAsync(QuotaBucket[] targets, long[] amounts, CancellationToken cancellationToken)
    {
        // Near a limit each grant declares its own hold, and concurrent grants here may take the
        // room one declared before it reserves: it declares again, a few times if it must.
        for (var attempt = 0; attempt < 8; attempt++)
        {
            var short_ = ReserveInMemory(targets, amounts);
            if (short_ < 0)
            {
                return true;
            }

            var bucket = targets[short_];
            var needed = amounts[short_];
            await bucket.LeaseGate.WaitAsync(cancellationToken);
            try
            {
                if (bucket.Free >= needed && bucket.HeldRoom < needed && await leases.DeclareAsync(bucket, needed, cancellationToken))
                {
                    continue;
                }

                var missing = needed - bucket.Free;
                if (missing > 0 || bucket.HeldRoom < needed)
                {
                    var (demand, unleased) = bucket.DemandNow();
                    // Near the limit only Leases:GrantsAhead grants' worth, as before demand sizing:
                    // the renewal pass sizes leases there, with every replica's use in view.
                    var limit = bucket.Quota.Limit;
                    var target = LeaseSizing.NearLimit(unleased, limit) ? 0 : LeaseSizing.Target(demand, demand, horizonIntervals, unleased, limit);
                    missing = Math.Max(missing, 0);
                    var wanted = LeaseSizing.RequestPathWant(missing, needed, grantsAhead, target);
                    var grown = await leases.GrowAsync(bucket, missing, needed, wanted, forGrant: true, counter: null, cancellationToken);

                    // The pool is short: what other replicas hold beyond their holds is free to take.
                    if (grown == 0 && await leases.ReclaimFreeAsync((bucket.CounterKey, bucket.WindowStartUnix), cancellationToken) > 0)
                    {
                        grown = await leases.GrowAsync(bucket, missing, needed, wanted, forGrant: true, counter: null, cancellationToken);
                    }

                    if (grown == 0 && missing > 0)
                    {
                        return false;
                    }
                }
            }
            finally
            {
                bucket.LeaseGate.Release();
            }
        }

        return false;
    }

    /// <summary>Returns -1 when everything is reserved, else the index of the bucket that was short.</summary>
    private static int ReserveInMemory(QuotaBucket[] targets, long[] amounts)
    {
        for (var i = 0; i < targets.Length; i++)
        {
            if (!targets[i].TryReserve(amounts[i]))
            {
                for (var j = 0; j < i; j++)
                {
                    targets[j].Release(amounts[j], leavesHold: 0);
                }

                return i;
            }
        }

        return -1;
    }
}
