namespace TaskBudgets.Governance.Quotas;

/// <summary>
/// How much free capacity a lease should hold: enough recent demand that grants are served from
/// memory between renewals, and near the limit no more than one interval of it, so capacity is
/// not stranded on one replica while another is refused.
/// </summary>
public static class LeaseSizing
{
    /// <summary>
    /// The free capacity a lease aims for. <paramref name="recent"/> is demand in the last renewal
    /// interval, <paramref name="smoothed"/> a slowly decaying memory of it, <paramref name="horizonIntervals"/>
    /// Leases:DemandHorizon in renewal intervals, <paramref name="unleased"/> what the window has
    /// left that no lease holds.
    /// </summary>
    public static long Target(long recent, long smoothed, double horizonIntervals, long unleased, long limit) =>
        NearLimit(unleased, limit) ? recent : Saturate(Math.Max(recent, smoothed) * horizonIntervals);

    /// <summary>
    /// What a grant that found the lease short asks the database for: what it misses, plus the
    /// larger of Leases:GrantsAhead grants and the lease's demand target, so that a busy bucket the
    /// renewal has not reached yet does not come back to the database every few grants. The
    /// database side still takes at most Leases:MaxPoolShare of what the window has left.
    /// </summary>
    public static long RequestPathWant(long missing, long needed, int grantsAhead, long target)
    {
        var ahead = needed > long.MaxValue / Math.Max(1, grantsAhead) ? long.MaxValue : needed * grantsAhead;
        var extra = Math.Max(ahead, target);
        return missing > long.MaxValue - extra ? long.MaxValue : missing + extra;
    }

    /// <summary>
    /// What a replica declares it may still grant until it declares again, beyond its live grants:
    /// <paramref name="aheadIntervals"/> (Leases:HoldAhead in renewal intervals) of its recent
    /// use of its hold, and near the limit nothing, so that what others cannot take back is only what live
    /// grants reserve (each grant there declares first: one write, where capacity is scarce).
    /// </summary>
    public static long Allowance(long holdDemand, double aheadIntervals, long unleased, long limit) =>
        NearLimit(unleased, limit) ? 0 : Saturate(holdDemand * aheadIntervals);

    /// <summary>Under a tenth of the limit is left unleased: leases cover one interval, not the horizon.</summary>
    public static bool NearLimit(long unleased, long limit) => unleased < limit / 10;

    private static long Saturate(double value) => value >= long.MaxValue ? long.MaxValue : (long)value;
}
