namespace TaskBudgets.Governance.Quotas;

/// <summary>What one renewal pass read of this replica's leases and their windows' counters.</summary>
/// <param name="DebitedByOthers">Per live lease id, what other replicas settled on it.</param>
/// <param name="Counters">Per (counter key, window start), the window's consumed and leased capacity.</param>
/// <param name="At">When it was read.</param>
public sealed record LeaseReadings(
    IReadOnlyDictionary<string, long> DebitedByOthers,
    IReadOnlyDictionary<(string CounterKey, long WindowStart), (long Consumed, long Leased)> Counters,
    DateTimeOffset At)
{
    /// <summary>Takes in what was read of the bucket's lease and counter; false when its lease was not among the live ones.</summary>
    public bool ObserveInto(QuotaBucket bucket)
    {
        ArgumentNullException.ThrowIfNull(bucket);
        if (!DebitedByOthers.TryGetValue(bucket.LeaseId, out var debitedElsewhere))
        {
            return false;
        }

        var (consumed, leased) = Counters.GetValueOrDefault((bucket.CounterKey, bucket.WindowStartUnix));
        bucket.Observe(debitedElsewhere, consumed, leased, At);
        return true;
    }

    /// <summary>What the pass read of the bucket's window counter, or null when it was not read.</summary>
    public (long Consumed, long Leased)? CounterOf(QuotaBucket bucket)
    {
        ArgumentNullException.ThrowIfNull(bucket);
        return Counters.TryGetValue((bucket.CounterKey, bucket.WindowStartUnix), out var counter) ? counter : null;
    }
}
