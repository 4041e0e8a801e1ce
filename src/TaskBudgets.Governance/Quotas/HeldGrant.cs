using System.Runtime.CompilerServices;

namespace TaskBudgets.Governance.Quotas;

/// <summary>
/// What a grant held by this replica reserved, and until when: a value in the grant book, not
/// an object. A caller that never reports leaves its grant held for the whole TTL; as objects
/// (the grant, its two arrays and a dictionary node) every grant was traced and copied by each
/// collection that promoted it, and with a few hundred thousand held each collection paused
/// GetBudget for ~45 ms. Up to four reservations are kept inline; a grant with more keeps arrays.
/// </summary>
internal readonly struct HeldGrant
{
    private const int InlineCount = 4;

    private readonly int count;
    private readonly InlineBuckets buckets;
    private readonly InlineAmounts amounts;
    private readonly QuotaBucket[]? manyBuckets;
    private readonly long[]? manyAmounts;

    public HeldGrant(DateTimeOffset expiresAt, QuotaBucket[] buckets, long[] amounts)
    {
        ExpiresAtTicks = expiresAt.UtcTicks;
        count = buckets.Length;
        if (count > InlineCount)
        {
            manyBuckets = buckets;
            manyAmounts = amounts;
            return;
        }

        for (var i = 0; i < count; i++)
        {
            this.buckets[i] = buckets[i];
            this.amounts[i] = amounts[i];
        }
    }

    public long ExpiresAtTicks { get; }

    /// <summary>Frees every reservation the grant holds; each leaves its bucket's hold as <paramref name="ending"/> says.</summary>
    /// <param name="ending">How the grant ended.</param>
    /// <param name="leavesHold">For a grant ended here, how much of each reservation leaves the hold (as the database's hold was lowered).</param>
    public void Release(GrantEnding ending, ReadOnlySpan<long> leavesHold = default)
    {
        for (var i = 0; i < count; i++)
        {
            var (bucket, amount) = manyBuckets is { } many ? (many[i], manyAmounts![i]) : (buckets[i]!, amounts[i]);
            var leaves = ending is GrantEnding.SettledHere or GrantEnding.ReleasedHere && i < leavesHold.Length ? leavesHold[i] : amount;
            bucket.Release(amount, leaves);
        }
    }

    [InlineArray(InlineCount)]
    private struct InlineBuckets
    {
        private QuotaBucket? first;
    }

    [InlineArray(InlineCount)]
    private struct InlineAmounts
    {
        private long first;
    }
}

/// <summary>How a held grant ended, which decides how much of its reservation leaves the declared hold.</summary>
public enum GrantEnding
{
    /// <summary>Expired unsettled: the database's hold still counts it, so this replica's hold drops by all of it.</summary>
    Expired,

    /// <summary>Settled or released on another replica, which lowered the database's hold by the whole reservation.</summary>
    EndedElsewhere,

    /// <summary>Settled here: the hold drops as the database's did (by what the call used, or near the limit by all of it).</summary>
    SettledHere,

    /// <summary>Released here: the hold keeps it to grant again, or near the limit drops it as the database's did.</summary>
    ReleasedHere,
}
