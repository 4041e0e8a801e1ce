using TaskBudgets.Governance.Budgeting;

namespace TaskBudgets.Governance.Quotas;

/// <summary>
/// This replica's view of one quota window: the capacity it leased from the database, what
/// its grants reserve out of it, and what it last saw of everyone else. Grants reserve here,
/// in memory; only lease changes reach the database. <paramref name="rememberedDemand"/> is the
/// demand the counter's previous window last saw, so a new window's first lease is sized to it,
/// and so is the hold its first declaration covers: sized to its own demand (none yet), the first
/// renewal after a rollover lowered the hold to nothing before the database took the declaration,
/// and with the database away the window's first grants found no hold to grant from.
/// </summary>
public sealed class QuotaBucket(QuotaDefinition quota, string subject, DateTimeOffset windowStart, string leaseId, long rememberedDemand = 0)
{
    private readonly Lock gate = new();
    private long leased;
    private long debitedLocally;
    private long debitedElsewhere;
    private long reclaimedSeen;
    private long reserved;
    private long held;
    private long heldLowered;
    private long holdOutflow;
    private long holdDemand;
    private double smoothedHoldDemand = rememberedDemand;
    private long consumedSeen;
    private long othersLeasedSeen;
    private long othersFreeSeen;
    private long outflow;
    private long demand;
    private double smoothedDemand = rememberedDemand;
    private DateTimeOffset? syncedAt;
    private bool holdsLease;
    private Task? denialCheck;

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
                return BalanceUnlocked;
            }
        }
    }

    /// <summary>
    /// What this replica may still reserve before it declares again: the lease's declared hold
    /// less what its live grants reserve. Other replicas may take back whatever of the lease's
    /// balance this replica has not declared, so it never reserves past its declaration.
    /// </summary>
    public long HeldRoom
    {
        get
        {
            lock (gate)
            {
                return held - reserved;
            }
        }
    }

    private long BalanceUnlocked => leased - debitedLocally - debitedElsewhere - reclaimedSeen;

    private long FreeUnlocked => BalanceUnlocked - reserved;

    /// <summary>
    /// What this replica could still grant: its free lease, the unleased rest of the limit, and the
    /// free part of other replicas' leases, which it takes back when the rest runs short.
    /// </summary>
    public QuotaHeadroom Headroom()
    {
        lock (gate)
        {
            var pool = Math.Max(0, Quota.Limit - consumedSeen - othersLeasedSeen + Math.Min(othersFreeSeen, othersLeasedSeen) - Math.Max(0, BalanceUnlocked));
            return new QuotaHeadroom(Quota.Metric, Quota.Limit, Math.Max(0, FreeUnlocked) + pool);
        }
    }

    public bool TryReserve(long amount)
    {
        lock (gate)
        {
            if (FreeUnlocked < amount || held - reserved < amount)
            {
                return false;
            }

            reserved += amount;
            TakenOut(amount);
            holdOutflow += amount;
            holdDemand = Math.Max(holdDemand, holdOutflow);
            return true;
        }
    }

    /// <summary>A grant's reservation ends (settled, released or expired): its capacity is free again.</summary>
    /// <param name="amount">What the grant reserved here.</param>
    /// <param name="leavesHold">
    /// How much the declared hold shrinks: the whole reservation for a grant that expired or was
    /// settled on another replica (which lowered the database's hold by as much, or, for an expiry,
    /// not at all), what it used for one settled here, nothing for one released here. So this
    /// replica's hold is never more than the database's.
    /// </param>
    public void Release(long amount, long leavesHold)
    {
        lock (gate)
        {
            reserved -= amount;
            outflow -= amount;
            held -= leavesHold;
            heldLowered += leavesHold;
            holdOutflow -= amount - leavesHold;
        }
    }

    /// <summary>
    /// Starts declaring a new hold: this replica's live reservations, <paramref name="needed"/> for a
    /// grant waiting, and <paramref name="allowance"/> to grant from until it declares again, at most
    /// the lease's balance after <paramref name="growth"/> joins it. Until the database has it, the
    /// hold is the smaller of the old and the new, so reservations made meanwhile fit both.
    /// Callers hold <see cref="LeaseGate"/>: declarations of one lease never overlap.
    /// </summary>
    public HoldDeclaration BeginDeclaration(long needed, long allowance, long growth = 0)
    {
        lock (gate)
        {
            var room = Math.Max(0, BalanceUnlocked + growth - reserved);
            (needed, allowance) = (Math.Max(0, needed), Math.Max(0, allowance));
            var declared = reserved + Math.Min(room, needed > long.MaxValue - allowance ? long.MaxValue : needed + allowance);
            held = Math.Min(held, declared);
            return new HoldDeclaration(reserved, declared, heldLowered);
        }
    }

    /// <summary>The database took the declaration: the hold is what was declared, less grants that ended since.</summary>
    public void Declared(HoldDeclaration declaration)
    {
        lock (gate)
        {
            held = declaration.Held - (heldLowered - declaration.LoweredBefore);
        }
    }

    /// <summary>
    /// How much of the hold grants used up in the last renewal interval at most (reservations, less
    /// what came back to the hold as they ended), or the slowly decaying memory of it if larger:
    /// what a hold's allowance covers.
    /// </summary>
    public long HoldDemand()
    {
        lock (gate)
        {
            return Math.Max(holdDemand, (long)smoothedHoldDemand);
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
            var taken = Math.Clamp(amount, 0, Math.Max(0, Math.Min(FreeUnlocked, BalanceUnlocked - held)));
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
    /// Takes in what the database says: the lease's debits by other replicas and what they took
    /// back of its free capacity (both only grow), and the window's use by everyone else
    /// (consumed plus other replicas' balances).
    /// </summary>
    /// <param name="othersFree">What other replicas' leases hold beyond their holds, where it was read.</param>
    public void Observe(LeaseState lease, long consumed, long leasedByAll, DateTimeOffset at, long? othersFree = null)
    {
        lock (gate)
        {
            othersFreeSeen = othersFree ?? othersFreeSeen;
            TakenOut(Math.Max(0, lease.DebitedByOthers - debitedElsewhere));
            debitedElsewhere = Math.Max(debitedElsewhere, lease.DebitedByOthers);
            reclaimedSeen = Math.Max(reclaimedSeen, lease.Reclaimed);
            var mine = BalanceUnlocked;
            consumedSeen = consumed;
            othersLeasedSeen = Math.Max(0, leasedByAll - mine);
            syncedAt = syncedAt is { } previous && previous > at ? previous : at;
        }
    }

    /// <summary>Takes in what other replicas did to this lease: their debits and what they took back.</summary>
    public void ObserveLease(LeaseState lease)
    {
        lock (gate)
        {
            TakenOut(Math.Max(0, lease.DebitedByOthers - debitedElsewhere));
            debitedElsewhere = Math.Max(debitedElsewhere, lease.DebitedByOthers);
            reclaimedSeen = Math.Max(reclaimedSeen, lease.Reclaimed);
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
            reclaimedSeen = 0;
            held = 0;
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
            smoothedHoldDemand = Math.Max(holdDemand, smoothedHoldDemand * decay);
            holdDemand = 0;
            holdOutflow = 0;
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
            var unleased = Math.Max(0, Quota.Limit - consumedSeen - othersLeasedSeen - Math.Max(0, BalanceUnlocked));
            return (Math.Max(demand, (long)smoothedDemand), unleased);
        }
    }

    /// <summary>
    /// The look at the database before a denial that is under way, or <paramref name="check"/> if
    /// none is (then the caller runs it): denials at once share one look.
    /// </summary>
    /// <returns>The check to await, and whether it is the caller's to run.</returns>
    public (Task Check, bool Mine) JoinDenialCheck(Task check)
    {
        var running = Volatile.Read(ref denialCheck);
        if (running is { IsCompleted: false })
        {
            return (running, false);
        }

        var seen = Interlocked.CompareExchange(ref denialCheck, check, running);
        return ReferenceEquals(seen, running) ? (check, true) : (seen!, false);
    }

    /// <summary>Under a tenth of the limit is left unleased, as this replica last saw the window.</summary>
    public bool NearLimit => LeaseSizing.NearLimit(DemandNow().Unleased, Quota.Limit);

    /// <summary>The allowance this bucket's hold declares beyond its live grants (<see cref="LeaseSizing.Allowance"/>).</summary>
    public long Allowance(double aheadIntervals) => LeaseSizing.Allowance(HoldDemand(), aheadIntervals, DemandNow().Unleased, Quota.Limit);

    public void UpdateQuota(QuotaDefinition definition) => Quota = definition;

    private void TakenOut(long amount)
    {
        outflow += amount;
        demand = Math.Max(demand, outflow);
    }
}

/// <summary>A hold being declared: the reservations it covers, the whole hold, and the bucket's lowering count when it began.</summary>
public readonly record struct HoldDeclaration(long Reserved, long Held, long LoweredBefore);

/// <summary>What the database holds of a lease that this replica may not know yet.</summary>
public readonly record struct LeaseState(long DebitedByOthers, long Reclaimed);
