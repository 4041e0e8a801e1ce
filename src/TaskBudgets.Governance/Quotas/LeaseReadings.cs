namespace TaskBudgets.Governance.Quotas;

/// <summary>What one renewal pass read of this replica's leases, their windows' counters, and its grants settled elsewhere.</summary>
/// <param name="Leases">Per live lease id, what other replicas settled on it and took back of it.</param>
/// <param name="Counters">Per (counter key, window start), the window's consumed and leased capacity.</param>
/// <param name="OthersFree">Per (counter key, window start), what other replicas' leases hold beyond their holds.</param>
/// <param name="SettledElsewhere">This replica's grants that other replicas settled or released, read before the leases.</param>
/// <param name="At">When it was read.</param>
public sealed record LeaseReadings(
    IReadOnlyDictionary<string, LeaseState> Leases,
    IReadOnlyDictionary<(string CounterKey, long WindowStart), (long Consumed, long Leased)> Counters,
    IReadOnlyDictionary<(string CounterKey, long WindowStart), long> OthersFree,
    IReadOnlyList<SettledGrant> SettledElsewhere,
    DateTimeOffset At)
{
    /// <summary>Takes in what was read of the bucket's lease and counter; false when its lease was not among the live ones.</summary>
    public bool ObserveInto(QuotaBucket bucket)
    {
        ArgumentNullException.ThrowIfNull(bucket);
        if (!Leases.TryGetValue(bucket.LeaseId, out var lease))
        {
            return false;
        }

        var key = (bucket.CounterKey, bucket.WindowStartUnix);
        var (consumed, leased) = Counters.GetValueOrDefault(key);
        bucket.Observe(lease, consumed, leased, At, OthersFree.GetValueOrDefault(key));
        return true;
    }

    /// <summary>What the pass read of the bucket's window counter, or null when it was not read.</summary>
    public (long Consumed, long Leased)? CounterOf(QuotaBucket bucket)
    {
        ArgumentNullException.ThrowIfNull(bucket);
        return Counters.TryGetValue((bucket.CounterKey, bucket.WindowStartUnix), out var counter) ? counter : null;
    }
}

/// <summary>A grant of this replica's that another replica settled or released.</summary>
public readonly record struct SettledGrant(Guid GrantId, DateTimeOffset ExpiresAt);
