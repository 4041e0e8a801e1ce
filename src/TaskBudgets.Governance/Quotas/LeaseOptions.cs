using System.ComponentModel.DataAnnotations;

namespace TaskBudgets.Governance.Quotas;

/// <summary>How replicas lease quota capacity from the database. Bound from the "Leases" section.</summary>
public sealed class LeaseOptions
{
    public const string Section = "Leases";

    /// <summary>How often leases are renewed, resized and expired leases reclaimed. Default 2 s.</summary>
    [Range(typeof(TimeSpan), "00:00:00.050", "00:10:00")]
    public TimeSpan RenewInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// How long a lease outlives its last renewal; a dead replica's capacity returns after it.
    /// Must exceed the grant TTL plus two renewals, so no live grant outlives its lease. Default 15 min.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan Ttl { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>
    /// How long a replica may go without renewing before other replicas take back the free part of
    /// its leases: what its live grants do not reserve and it has not declared it may still grant.
    /// The part its live grants reserve returns as they are settled elsewhere or expire. Must be at
    /// least two renew intervals, so a healthy replica keeps its leases. Default 10 s.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.150", "01:00:00")]
    public TimeSpan ReclaimFreeAfter { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// A lease's declared hold covers the replica's live grants plus this much of its recent grant
    /// rate, so grants are served from memory until the next renewal declares again. Larger keeps
    /// more grants off the database; smaller lets more of a silent replica's lease return. Default 4 s.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.050", "01:00:00")]
    public TimeSpan HoldAhead { get; set; } = TimeSpan.FromSeconds(4);

    /// <summary>
    /// How far replicas' clocks may disagree. A grant settled on another replica within this of its
    /// expiry is settled as late (counted, not taken from its issuer's lease), since its issuer may
    /// have freed it already. Must be less than half of Grants:Ttl. Default 2 s.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:05:00")]
    public TimeSpan MaxClockSkew { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>A lease aims to cover this much of recent demand ahead. Default 10 s.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "01:00:00")]
    public TimeSpan DemandHorizon { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// The largest share of a window's unleased capacity one replica may take beyond its immediate
    /// need, so capacity near the limit is not stranded on one replica. Default 0.5.
    /// </summary>
    [Range(0.01, 1.0)]
    public double MaxPoolShare { get; set; } = 0.5;

    /// <summary>
    /// How long a replica goes on granting from its leases after it last reached the database.
    /// Past it, GetBudget fails closed with UNAVAILABLE until the database answers again. Default 30 s.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "01:00:00")]
    public TimeSpan ServeWithoutDatabaseFor { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// When taking a lease for a grant, take at least this many grants' worth ahead; away from the
    /// limit, a <see cref="DemandHorizon"/> of the bucket's recent demand if that is more. Default 8.
    /// </summary>
    [Range(1, 10_000)]
    public int GrantsAhead { get; set; } = 8;

    /// <summary>
    /// How many buckets a renewal pass resizes at once (each has its own rows, so they do not
    /// contend; on SQLite their writes still take turns). Default 2: the renewals themselves go in
    /// one transaction, so only grows and returns are per bucket; more at once makes the pass's
    /// burst of database work take the cores that serve calls, which shows in GetBudget's tail latency.
    /// </summary>
    [Range(1, 64)]
    public int RenewParallelism { get; set; } = 2;
}
