using System.Collections.Concurrent;
using TaskBudgets.Governance.Telemetry;

namespace TaskBudgets.Governance.Quotas;

/// <summary>
/// The grants this replica holds reservations for.
/// Every grant leaves exactly once: settled, released or expired (whoever removes it frees it).
/// </summary>
/// <remarks>
/// Grants are kept by the second they expire in, so a sweep visits only the seconds that have
/// passed: sweeping every grant held each second would cost GetBudget CPU in proportion to the
/// grants callers leave unreported. Within a second they are kept
/// by value (<see cref="HeldGrant"/>) in a few locked stripes.
/// </remarks>
public sealed class GrantBook(GovernanceMetrics metrics)
{
    // A second is dropped this long after it passed: an issuer that read the clock, then was
    // paused before adding its grant, still finds the second's grants in the book.
    private const long RetainedSeconds = 10;

    private readonly ConcurrentDictionary<long, ExpirySecond> byExpiry = new();

    public int ActiveCount
    {
        get
        {
            var count = 0;
            foreach (var (_, grants) in byExpiry)
            {
                count += grants.Count();
            }

            return count;
        }
    }

    /// <summary>Holds a grant's reservations until it is settled, released or expires.</summary>
    public void Add(Guid grantId, DateTimeOffset expiresAt, QuotaBucket[] buckets, long[] amounts)
    {
        ArgumentNullException.ThrowIfNull(buckets);
        ArgumentNullException.ThrowIfNull(amounts);
        var second = expiresAt.ToUnixTimeSeconds();
        var grants = byExpiry.TryGetValue(second, out var existing)
            ? existing
            : byExpiry.GetOrAdd(second, static (second, book) => new ExpirySecond(book.CapacityFor(second)), this);
        grants.Add(grantId, new HeldGrant(expiresAt, buckets, amounts));
    }

    /// <summary>Frees the grant's reservations if it is still held; false if it was already freed.</summary>
    /// <param name="grantId">The grant.</param>
    /// <param name="expiresAt">When the grant expires (its token says so): where the book keeps it.</param>
    /// <param name="ending">How it ended.</param>
    /// <param name="leavesHold">For a grant ended here, how much of each reservation leaves the hold, in the grant's order.</param>
    public bool TryRelease(Guid grantId, DateTimeOffset expiresAt, GrantEnding ending, ReadOnlySpan<long> leavesHold = default)
    {
        if (!byExpiry.TryGetValue(expiresAt.ToUnixTimeSeconds(), out var grants) || !grants.TryRemove(grantId, out var grant))
        {
            return false;
        }

        grant.Release(ending, leavesHold);
        return true;
    }

    /// <summary>Frees the grants other replicas settled or released; returns how many were still held.</summary>
    public int ReleaseSettledElsewhere(IReadOnlyList<SettledGrant> grants)
    {
        ArgumentNullException.ThrowIfNull(grants);
        var freed = 0;
        foreach (var grant in grants)
        {
            if (TryRelease(grant.GrantId, grant.ExpiresAt, GrantEnding.EndedElsewhere))
            {
                freed++;
            }
        }

        return freed;
    }

    /// <summary>Frees every grant that expired by <paramref name="now"/>; returns how many.</summary>
    public int SweepExpired(DateTimeOffset now)
    {
        var expired = 0;
        var current = now.ToUnixTimeSeconds();
        foreach (var (second, grants) in byExpiry)
        {
            if (second > current)
            {
                continue;
            }

            expired += grants.ReleaseExpired(now.UtcTicks);
            if (second < current - RetainedSeconds && byExpiry.TryRemove(KeyValuePair.Create(second, grants)))
            {
                expired += grants.ReleaseExpired(now.UtcTicks);
            }
        }

        metrics.Expired(expired);
        return expired;
    }

    // Sized like the second before it and a quarter more, so a busy second's stripes seldom grow
    // as it fills: sized exactly, every second busier than the last copied all its grants once.
    private int CapacityFor(long second) => byExpiry.TryGetValue(second - 1, out var previous) ? previous.Count() * 5 / 4 : 0;

    /// <summary>The grants expiring in one second, in stripes by grant id: concurrent issuers seldom share a lock.</summary>
    /// <remarks>
    /// 64 stripes keep each stripe's table under the large object heap's 85 KB up to about 35,000
    /// grants a second: a table there is zeroed on allocation and counts towards full collections.
    /// </remarks>
    private sealed class ExpirySecond
    {
        private const int StripeCount = 64;
        private readonly Stripe[] stripes = new Stripe[StripeCount];

        public ExpirySecond(int capacity)
        {
            for (var i = 0; i < StripeCount; i++)
            {
                stripes[i] = new Stripe(capacity / StripeCount);
            }
        }

        public int Count()
        {
            var count = 0;
            foreach (var stripe in stripes)
            {
                lock (stripe.Gate)
                {
                    count += stripe.Grants.Count;
                }
            }

            return count;
        }

        public void Add(Guid grantId, HeldGrant grant)
        {
            var stripe = StripeOf(grantId);
            lock (stripe.Gate)
            {
                stripe.Grants[grantId] = grant;
            }
        }

        public bool TryRemove(Guid grantId, out HeldGrant grant)
        {
            var stripe = StripeOf(grantId);
            lock (stripe.Gate)
            {
                return stripe.Grants.Remove(grantId, out grant);
            }
        }

        public int ReleaseExpired(long nowTicks)
        {
            var expired = 0;
            foreach (var stripe in stripes)
            {
                lock (stripe.Gate)
                {
                    foreach (var (id, grant) in stripe.Grants)
                    {
                        if (grant.ExpiresAtTicks <= nowTicks)
                        {
                            stripe.Grants.Remove(id);
                            grant.Release(GrantEnding.Expired);
                            expired++;
                        }
                    }
                }
            }

            return expired;
        }

        private Stripe StripeOf(Guid grantId) => stripes[(grantId.GetHashCode() & int.MaxValue) % StripeCount];

        private sealed class Stripe(int capacity)
        {
            public Lock Gate { get; } = new();

            public Dictionary<Guid, HeldGrant> Grants { get; } = new(capacity);
        }
    }
}
