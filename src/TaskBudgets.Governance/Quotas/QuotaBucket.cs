namespace TaskBudgets.Governance.Quotas;

/// <summary>
/// This replica's view of one quota window: the capacity it leased from the database, what
/// its grants reserve out of it, and what it last saw of everyone else. Grants reserve here,
/// in memory; only lease changes reach the database. <paramref name="rememberedDemand"/> is the
/// demand the counter's previous window last saw, so a new window's first lease is sized to it.
/// </summary>
public sealed class QuotaBucket(QuotaDefinition quota, string subject, DateTimeOffset windowStart, string leaseId, long rememberedDemand = 0)
{
    private readonly Lock gate = new();
    private long leased;
    private long debitedLocally;
    private long debitedElsewhere;
    private long reserved;
    private long consumedSeen;
    private long othersLeasedSeen;
    private long outflow;
    private long demand;
    private double smoothedDemand = rememberedDemand;
    private DateTimeOffset? syncedAt;
    private bool holdsLease;

    public QuotaDefinition Quota { get; private set; } = quota;

    public string Subject { get; } = subject;

    public string CounterKey { get; } = quota.CounterKey(subject);

    public DateTimeOffset WindowStart { get; } = windowStart;

    public long WindowStartUnix { get; } = windowStart.ToUnixTimeSeconds();

    public DateTimeOffset WindowEnd { get; } = WindowCalendar.EndOf(quota.Window, windowStart);

    /// <summary>This replica's lease on the window's counter.</summary>
    public string LeaseId { get; } = leaseId;

    /// <summary>Serialises this bucket's lease changes (database round trips), never its grants.</summary>
    public SemaphoreSlim LeaseGate { get; } = new(1, 1);

    /// <summary>Whether the database was read for this window within <paramref name="maxAge"/> of <paramref name="now"/>.</summary>
    public bool SyncedWithin(DateTimeOffset now, TimeSpan maxAge)
    {
        lock (gate)
        {
            return syncedAt is { } at && now - at <= maxAge;
        }
    }

    /// <summary>Leased capacity not yet reserved or debited.</summary>
    public long Free
    {
        get
        {
            lock (gate)
            {
                return FreeUnlocked;
            }
        }
    }

    public long Reserved
    {
        get
        {
            lock (gate)
            {
                return reserved;
            }
        }
    }

    /// <summary>The lease's balance as the database holds it (amount less debits).</summary>
    public long LeaseBalance
    {
        get
        {
            lock (gate)
            {
                return leased - debitedLocally - debitedElsewhere;
            }
        }
    }

    private long FreeUnlocked => leased - debitedLocally - debitedElsewhere - reserved;

    /// <summary>What this replica could still grant: its free lease plus the unleased rest of the limit.</summary>
    public QuotaHeadroom Headroom()
    {
        lock (gate)
        {
            var balance = leased - debitedLocally - debitedElsewhere;
            var pool = Math.Max(0, Quota.Limit - consumedSeen - othersLeasedSeen - Math.Max(0, balance));
            return new QuotaHeadroom(Quota.Metric, Quota.Limit, Math.Max(0, FreeUnlocked) + pool);
        }
    }

    public bool TryReserve(long amount)
    {
        lock (gate)
        {
            if (FreeUnlocked < amount)
            {
                return false;
            }

            reserved += amount;
            TakenOut(amount);
            return true;
        }
    }

    /// <summary>A grant's reservation ends (settled, released or expired): its capacity is free again.</summary>
    public void Release(long amount)
    {
        lock (gate)
        {
            reserved -= amount;
            outflow -= amount;
        }
    }

    /// <summary>A settlement on this replica debited <paramref name="debit"/> from this lease in the database.</summary>
    public void DebitLocally(long debit)
    {
        lock (gate)
        {
            debitedLocally += debit;
            consumedSeen += debit;
            TakenOut(debit);
        }
    }

    /// <summary>Takes up to <paramref name="amount"/> of free capacity out of the lease, to return it.</summary>
    public long TakeFree(long amount)
    {
        lock (gate)
        {
            var taken = Math.Clamp(amount, 0, Math.Max(0, FreeUnlocked));
            leased -= taken;
            return taken;
        }
    }

    /// <summary>Capacity joined the lease (after it was committed), or went back to it (a failed return).</summary>
    public void AddLeased(long amount)
    {
        lock (gate)
        {
            leased += amount;
            holdsLease = true;
        }
    }

    /// <summary>
    /// Whether this replica has a lease on the window in the database, as far as it knows: it
    /// committed one that has not been found lost since. Replica ids are new on every start, so a
    /// window this process never leased from has no lease to renew.
    /// </summary>
    public bool HoldsLease
    {
        get
        {
            lock (gate)
            {
                return holdsLease;
            }
        }
    }

    /// <summary>
    /// Takes in what the database says: the lease's debits by other replicas (they only grow)
    /// and the window's use by everyone else (consumed plus other replicas' balances).
    /// </summary>
    public void Observe(long leaseDebitedElsewhere, long consumed, long leasedByAll, DateTimeOffset at)
    {
        lock (gate)
        {
            TakenOut(Math.Max(0, leaseDebitedElsewhere - debitedElsewhere));
            debitedElsewhere = Math.Max(debitedElsewhere, leaseDebitedElsewhere);
            var mine = leased - debitedLocally - debitedElsewhere;
            consumedSeen = consumed;
            othersLeasedSeen = Math.Max(0, leasedByAll - mine);
            syncedAt = syncedAt is { } previous && previous > at ? previous : at;
        }
    }

    /// <summary>The database no longer holds this replica's lease (it expired): its capacity is gone.</summary>
    public void LeaseLost()
    {
        lock (gate)
        {
            leased = 0;
            debitedLocally = 0;
            debitedElsewhere = 0;
            holdsLease = false;
        }
    }

    /// <summary>
    /// Demand since the last call, and a slowly decaying memory of it: a lease sized to the latter
    /// survives a lull, so a replica still has capacity to grant from when the database is briefly
    /// away. Demand is the most the free lease had to cover at once in that time: reservations and
    /// debits less what came back from reservations that ended. A reservation settled within the
    /// interval gives its capacity back, so a thousand short calls one at a time need one call's
    /// worth plus what they used, not a thousand calls' worth (which leased a busy replica the
    /// whole window and left the others refused).
    /// </summary>
    public (long Recent, long Smoothed) TakeDemand(double decay)
    {
        lock (gate)
        {
            var recent = demand;
            demand = 0;
            outflow = 0;
            smoothedDemand = Math.Max(recent, smoothedDemand * decay);
            return (recent, (long)smoothedDemand);
        }
    }

    /// <summary>
    /// Recent demand without taking it (grants since the last renewal pass, or the remembered rate
    /// if larger), and what the window has left unleased, for sizing a lease between passes.
    /// </summary>
    public (long Demand, long Unleased) DemandNow()
    {
        lock (gate)
        {
            var balance = leased - debitedLocally - debitedElsewhere;
            var unleased = Math.Max(0, Quota.Limit - consumedSeen - othersLeasedSeen - Math.Max(0, balance));
            return (Math.Max(demand, (long)smoothedDemand), unleased);
        }
    }

    public void UpdateQuota(QuotaDefinition definition) => Quota = definition;

    private void TakenOut(long amount)
    {
        outflow += amount;
        demand = Math.Max(demand, outflow);
    }
}
