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
    /// one transaction, so only grows and returns are per bucket, and with 4 at once the pass's
    /// burst of database work took the cores serving calls (GetBudget p99 on PostgreSQL 1.53-1.61x
    /// the no-op baseline; 1.31-1.43x with 2, see docs/performance.md).
    /// </summary>
    [Range(1, 64)]
    public int RenewParallelism { get; set; } = 2;
}
