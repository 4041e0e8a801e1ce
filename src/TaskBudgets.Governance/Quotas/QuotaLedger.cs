using System.Collections.Concurrent;
using Microsoft.Extensions.Options;

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
    /// Reserves <paramref name="amounts"/>[i] on <paramref name="targets"/>[i], all or none. In the common
    /// case this is memory only; a bucket whose lease is short takes more capacity from the database.
    /// Returns false when the database refuses: a window has less left than asked.
    /// </summary>
    public async ValueTask<bool> TryReserveAsync(QuotaBucket[] targets, long[] amounts, CancellationToken cancellationToken)
    {
        for (var attempt = 0; attempt < 4; attempt++)
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
                var missing = needed - bucket.Free;
                if (missing > 0)
                {
                    var (demand, unleased) = bucket.DemandNow();
                    // Near the limit only Leases:GrantsAhead grants' worth, as before demand sizing:
                    // the renewal pass sizes leases there, with every replica's use in view.
                    var limit = bucket.Quota.Limit;
                    var target = LeaseSizing.NearLimit(unleased, limit) ? 0 : LeaseSizing.Target(demand, demand, horizonIntervals, unleased, limit);
                    var wanted = LeaseSizing.RequestPathWant(missing, needed, grantsAhead, target);
                    var grown = await leases.GrowAsync(bucket, missing, wanted, forGrant: true, counter: null, cancellationToken);
                    if (grown == 0)
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
                    targets[j].Release(amounts[j]);
                }

                return i;
            }
        }

        return -1;
    }
}
