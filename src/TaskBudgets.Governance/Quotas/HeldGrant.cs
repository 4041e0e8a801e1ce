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

    /// <summary>Frees every reservation the grant holds.</summary>
    public void Release()
    {
        for (var i = 0; i < count; i++)
        {
            if (manyBuckets is { } many)
            {
                many[i].Release(manyAmounts![i]);
            }
            else
            {
                buckets[i]!.Release(amounts[i]);
            }
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
