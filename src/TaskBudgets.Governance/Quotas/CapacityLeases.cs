using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using TaskBudgets.Governance.Storage;
using TaskBudgets.Governance.Telemetry;

namespace TaskBudgets.Governance.Quotas;

/// <summary>
/// The database side of leases. Each change is one atomic conditional update of the window's
/// counter: the database refuses a lease that would take the window past its limit. Every change
/// the owner makes also declares the lease's hold (what it may still claim), and the database
/// refuses a hold its balance does not cover. Callers hold the bucket's <see cref="QuotaBucket.LeaseGate"/>.
/// </summary>
public sealed partial class CapacityLeases(
    IDbContextFactory<GovernanceDbContext> contexts,
    IOptions<LeaseOptions> options,
    SqliteWriteGate writeGate,
    TimeProvider time,
    ReplicaIdentity replica,
    GovernanceMetrics metrics,
    ILogger<CapacityLeases> logger)
{
    private readonly LeaseOptions options = options.Value;
    private LedgerSql? statements;

    /// <summary>Leases:HoldAhead in renewal intervals: how much of its recent use a hold's allowance covers.</summary>
    public double HoldAheadIntervals => options.HoldAhead / options.RenewInterval;

    /// <summary>
    /// Grows the bucket's lease by <paramref name="wanted"/>, or by less if the window has less left,
    /// but never by less than <paramref name="needed"/>, and declares a hold that covers a grant of
    /// <paramref name="holdFor"/> (0 when none waits). Returns what was added (0: refused).
    /// </summary>
    /// <param name="forGrant">A grant is waiting for it (else the renewal grows ahead of need); for the metric.</param>
    /// <param name="counter">
    /// The window's counter as the caller has just read it (the renewal pass), so the first attempt
    /// need not read it again; the conditional update still refuses what the window no longer has.
    /// </param>
    public async Task<long> GrowAsync(QuotaBucket bucket, long needed, long holdFor, long wanted, bool forGrant, (long Consumed, long Leased)? counter, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var expires = now + (long)options.Ttl.TotalMilliseconds;
        // Near a limit, replicas growing and taking back at once change the counter and each
        // other's leases under one another: each retry reads again, so a few more are cheap.
        for (var attempt = 0; attempt < 6; attempt++)
        {
            var (outcome, amount) = await TryGrowOnceAsync(bucket, needed, holdFor, wanted, now, expires, forGrant, attempt == 0 ? counter : null, cancellationToken);
            switch (outcome)
            {
                case GrowOutcome.Grown:
                    return amount;
                case GrowOutcome.Refused:
                    return 0;
                case GrowOutcome.LeaseExpired:
                    // Outside the write gate: reclaiming takes it too.
                    await ReclaimExpiredAsync(cancellationToken);
                    bucket.LeaseLost();
                    break;
            }
        }

        LogGrowGaveUp(logger, bucket.CounterKey);
        return 0;
    }

    private async Task<(GrowOutcome Outcome, long Amount)> TryGrowOnceAsync(
        QuotaBucket bucket, long needed, long holdFor, long wanted, long now, long expires, bool forGrant, (long Consumed, long Leased)? known, CancellationToken cancellationToken)
    {
        var limit = bucket.Quota.Limit;
        using var entered = await writeGate.EnterAsync(cancellationToken);
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var counter = known ?? await ReadCounterAsync(db, bucket, cancellationToken);
        if (counter is null)
        {
            await CreateCounterAsync(db, bucket, cancellationToken);
            counter = (0, 0);
        }

        var pool = limit - counter.Value.Consumed - counter.Value.Leased;
        if (known is null)
        {
            bucket.Observe(await ReadLeaseStateAsync(db, bucket, cancellationToken), counter.Value.Consumed, counter.Value.Leased, time.GetUtcNow());
        }

        if (pool < needed)
        {
            metrics.LeaseGrown(succeeded: false, forGrant);
            return (GrowOutcome.Refused, 0);
        }

        // Beyond the immediate need, take at most a share of what is left: near the limit,
        // the rest stays available to other replicas.
        // Near the limit, only the need: more would be free capacity other replicas take back as
        // soon as their own grants find the pool empty.
        var extra = LeaseSizing.NearLimit(pool, limit) ? 0 : Math.Max(0, wanted - needed);
        var cap = (long)((pool - needed) * options.MaxPoolShare);
        var amount = needed + Math.Min(extra, cap);
        if (amount <= 0)
        {
            return (GrowOutcome.Refused, 0);
        }

        var declaration = bucket.BeginDeclaration(holdFor, bucket.Allowance(HoldAheadIntervals), growth: amount);

        // Rows are taken lease first, counter second, as every other writer of both does
        // (settlement, return, reclaim): one order, so concurrent writers cannot deadlock.
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        var key = bucket.CounterKey;
        var window = bucket.WindowStartUnix;
        var leaseId = bucket.LeaseId;
        var extended = await db.CapacityLeases
            .Where(l => l.Id == leaseId && l.ExpiresAtMs > now && l.Amount + amount - l.DebitedByOwner - l.DebitedByOthers - l.Reclaimed >= declaration.Held)
            .ExecuteUpdateAsync(
                s => s.SetProperty(l => l.Amount, l => l.Amount + amount)
                    .SetProperty(l => l.ExpiresAtMs, expires)
                    .SetProperty(l => l.RenewedAtMs, now)
                    .SetProperty(l => l.Held, declaration.Held)
                    .SetProperty(l => l.Reserved, declaration.Reserved),
                cancellationToken);
        var newLease = extended == 0;
        if (newLease)
        {
            var existing = await db.CapacityLeases.AsNoTracking().Where(l => l.Id == leaseId).Select(l => new { l.ExpiresAtMs }).FirstOrDefaultAsync(cancellationToken);
            if (existing is not null)
            {
                await transaction.RollbackAsync(cancellationToken);

                // Expired (and reclaimed, or about to be), or its balance shrank under this replica's
                // view: another replica took back free capacity. Read again and retry.
                return (existing.ExpiresAtMs <= now ? GrowOutcome.LeaseExpired : GrowOutcome.Retry, 0);
            }

            // A new lease holds at most what it is: grants of a lost one had their hold there.
            declaration = declaration with { Held = Math.Min(declaration.Held, amount), Reserved = Math.Min(declaration.Reserved, amount) };
            db.CapacityLeases.Add(new CapacityLease
            {
                Id = leaseId,
                CounterKey = key,
                WindowStart = window,
                ReplicaId = replica.Id,
                Amount = amount,
                Held = declaration.Held,
                Reserved = declaration.Reserved,
                RenewedAtMs = now,
                ExpiresAtMs = expires,
            });
            await db.SaveChangesAsync(cancellationToken);
        }

        var taken = await db.QuotaCounters
            .Where(c => c.CounterKey == key && c.WindowStart == window && c.Consumed + c.Leased + amount <= limit)
            .ExecuteUpdateAsync(s => s.SetProperty(c => c.Leased, c => c.Leased + amount), cancellationToken);
        if (taken == 0)
        {
            // Another replica took capacity since the read: read again and retry.
            await transaction.RollbackAsync(cancellationToken);
            return (GrowOutcome.Retry, 0);
        }

        if (newLease)
        {
            bucket.LeaseLost();
        }

        await transaction.CommitAsync(cancellationToken);
        bucket.AddLeased(amount);
        bucket.Declared(declaration);
        bucket.Observe(default, counter.Value.Consumed, counter.Value.Leased + amount, time.GetUtcNow());
        metrics.LeaseGrown(succeeded: true, forGrant);
        return (GrowOutcome.Grown, amount);
    }

    /// <summary>
    /// Declares a hold that covers a grant of <paramref name="needed"/> out of the lease as it is.
    /// False when the database refuses (the lease is gone, or its balance is less than this replica
    /// thought, which it has now read): the caller grows the lease instead.
    /// </summary>
    public async Task<bool> DeclareAsync(QuotaBucket bucket, long needed, CancellationToken cancellationToken)
    {
        using var entered = await writeGate.EnterAsync(cancellationToken);
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var declaration = bucket.BeginDeclaration(needed, bucket.Allowance(HoldAheadIntervals));
        if (declaration.Held - declaration.Reserved < needed)
        {
            return false;
        }

        var leaseId = bucket.LeaseId;
        var declared = await db.CapacityLeases
            .Where(l => l.Id == leaseId && l.ExpiresAtMs > now && l.Amount - l.DebitedByOwner - l.DebitedByOthers - l.Reclaimed >= declaration.Held)
            .ExecuteUpdateAsync(
                s => s.SetProperty(l => l.Held, declaration.Held).SetProperty(l => l.Reserved, declaration.Reserved).SetProperty(l => l.RenewedAtMs, now),
                cancellationToken);
        metrics.LeaseOperation("declare", declared == 1);
        if (declared == 1)
        {
            bucket.Declared(declaration);
            return true;
        }

        var counter = await ReadCounterAsync(db, bucket, cancellationToken) ?? (0, 0);
        bucket.Observe(await ReadLeaseStateAsync(db, bucket, cancellationToken), counter.Consumed, counter.Leased, time.GetUtcNow());
        return false;
    }

    /// <summary>
    /// Returns up to <paramref name="amount"/> of the lease's free capacity to the window, keeping
    /// the hold's allowance (none when <paramref name="keepAllowance"/> is false, as when a window
    /// ends or the replica stops).
    /// </summary>
    public async Task<long> ReturnAsync(QuotaBucket bucket, long amount, bool keepAllowance, CancellationToken cancellationToken)
    {
        var declaration = bucket.BeginDeclaration(0, keepAllowance ? bucket.Allowance(HoldAheadIntervals) : 0);
        var taken = bucket.TakeFree(amount);
        if (taken == 0)
        {
            return 0;
        }

        var returned = false;
        try
        {
            using var entered = await writeGate.EnterAsync(cancellationToken);
            await using var db = await contexts.CreateDbContextAsync(cancellationToken);
            await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
            var leaseId = bucket.LeaseId;
            var key = bucket.CounterKey;
            var window = bucket.WindowStartUnix;
            var now = time.GetUtcNow().ToUnixTimeMilliseconds();
            var shrunk = await db.CapacityLeases
                .Where(l => l.Id == leaseId && l.ExpiresAtMs > now && l.Amount - taken - l.DebitedByOwner - l.DebitedByOthers - l.Reclaimed >= declaration.Held)
                .ExecuteUpdateAsync(
                    s => s.SetProperty(l => l.Amount, l => l.Amount - taken).SetProperty(l => l.Held, declaration.Held).SetProperty(l => l.Reserved, declaration.Reserved),
                    cancellationToken);
            if (shrunk == 1)
            {
                await db.QuotaCounters
                    .Where(c => c.CounterKey == key && c.WindowStart == window)
                    .ExecuteUpdateAsync(s => s.SetProperty(c => c.Leased, c => c.Leased - taken), cancellationToken);
            }

            await transaction.CommitAsync(cancellationToken);
            returned = shrunk == 1;
            if (returned)
            {
                bucket.Declared(declaration);
            }

            metrics.LeaseOperation("return", succeeded: true);
            return returned ? taken : 0;
        }
        catch
        {
            metrics.LeaseFailed("return");
            throw;
        }
        finally
        {
            if (!returned)
            {
                // Not returned (refused: the balance is not what this replica thought, or failed):
                // the capacity is the lease's still, as far as this replica can tell.
                bucket.AddLeased(taken);
            }
        }
    }

    /// <summary>
    /// Renews the live leases of <paramref name="buckets"/> in one transaction, declaring each one's
    /// hold (its live grants and an allowance), then reads, for the renewal pass, this replica's
    /// grants that other replicas ended, what they debited from and took back of its leases, and
    /// the windows' counters. One commit per pass instead of one per bucket: on SQLite each commit
    /// has its own fsync under the one write lock the group commit waits for. The leases are taken in
    /// id order, the order the group commit takes them in, so the two cannot deadlock.
    /// </summary>
    public async Task<LeaseReadings> RenewAllAsync(IReadOnlyCollection<QuotaBucket> buckets, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var expires = now + (long)options.Ttl.TotalMilliseconds;
        var owned = buckets.Where(b => b.HoldsLease).OrderBy(b => b.LeaseId, StringComparer.Ordinal).ToList();
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);

        // Each bucket's gate, in id order, while its hold is declared: declarations of one lease never overlap.
        var gates = new List<SemaphoreSlim>(owned.Count);
        try
        {
            foreach (var bucket in owned)
            {
                await bucket.LeaseGate.WaitAsync(cancellationToken);
                gates.Add(bucket.LeaseGate);
            }

            // A window leased ahead stays held whole until it starts: it is there to grant from
            // when the database is away at the rollover.
            var at = time.GetUtcNow();
            var declarations = owned.Select(b => b.BeginDeclaration(0, at < b.WindowStart ? long.MaxValue : b.Allowance(HoldAheadIntervals))).ToList();
            using (await writeGate.EnterAsync(cancellationToken))
            {
                await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
                var sql = Sql(db);
                var renewals = owned.Select((b, i) => new LeaseRenewalRow(b.LeaseId, declarations[i].Held, declarations[i].Reserved)).ToList();
                var (renewed, declared) = await sql.RenewLeasesAsync(db, renewals, expires, now);
                await transaction.CommitAsync(cancellationToken);
                for (var i = 0; i < owned.Count; i++)
                {
                    if (declared[i])
                    {
                        owned[i].Declared(declarations[i]);
                    }
                }

                metrics.LeaseOperation("renew", succeeded: true, renewed.Count(r => r));
            }
        }
        finally
        {
            foreach (var gate in gates)
            {
                gate.Release();
            }
        }

        // Notices first, leases after: a settlement writes both in one transaction, so every grant
        // noticed here has its debit in the leases read next, and the debit is taken in before the
        // reservation is freed (this replica never sees more room than there is).
        var replicaId = replica.Id;
        var settled = await TakeNoticesAsync(db, cancellationToken);

        // A lease extended just now expires at `expires` or later (a grow since extends it further);
        // one that expires sooner was lost, or created by a grow racing this pass: renewed on its own.
        var alive = await db.CapacityLeases.AsNoTracking()
            .Where(l => l.ReplicaId == replicaId && l.ExpiresAtMs >= expires)
            .Select(l => new { l.Id, l.DebitedByOthers, l.Reclaimed })
            .ToDictionaryAsync(l => l.Id, l => new LeaseState(l.DebitedByOthers, l.Reclaimed), StringComparer.Ordinal, cancellationToken);
        var keys = buckets.Select(b => b.CounterKey).Distinct().ToList();
        var windows = buckets.Select(b => b.WindowStartUnix).Distinct().ToList();
        var counters = await db.QuotaCounters.AsNoTracking()
            .Where(c => keys.Contains(c.CounterKey) && windows.Contains(c.WindowStart))
            .Select(c => new { c.CounterKey, c.WindowStart, c.Consumed, c.Leased })
            .ToDictionaryAsync(c => (c.CounterKey, c.WindowStart), c => (c.Consumed, c.Leased), cancellationToken);
        var othersFree = await OthersFree(db, now)
            .Where(l => keys.Contains(l.CounterKey) && windows.Contains(l.WindowStart))
            .GroupBy(l => new { l.CounterKey, l.WindowStart })
            .Select(g => new { g.Key.CounterKey, g.Key.WindowStart, Free = g.Sum(l => l.Amount - l.DebitedByOwner - l.DebitedByOthers - l.Reclaimed - l.Held) })
            .ToDictionaryAsync(f => (f.CounterKey, f.WindowStart), f => f.Free, cancellationToken);
        return new LeaseReadings(alive, counters, othersFree, settled, time.GetUtcNow());
    }

    /// <summary>
    /// Between renewal passes, when a grant finds too little: this replica's grants that other
    /// replicas settled or released since the last pass, after taking in what those did to its
    /// leases (their debits, and capacity they took back), so the caller can free them at once.
    /// </summary>
    public async Task<IReadOnlyList<SettledGrant>> TakeSettledElsewhereAsync(IEnumerable<QuotaBucket> buckets, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var settled = await TakeNoticesAsync(db, cancellationToken);
        if (settled.Count == 0)
        {
            return settled;
        }

        var replicaId = replica.Id;
        var states = await db.CapacityLeases.AsNoTracking()
            .Where(l => l.ReplicaId == replicaId)
            .Select(l => new { l.Id, l.DebitedByOthers, l.Reclaimed })
            .ToDictionaryAsync(l => l.Id, l => new LeaseState(l.DebitedByOthers, l.Reclaimed), StringComparer.Ordinal, cancellationToken);
        foreach (var bucket in buckets)
        {
            if (states.TryGetValue(bucket.LeaseId, out var state))
            {
                bucket.ObserveLease(state);
            }
        }

        return settled;
    }

    /// <summary>Reads and deletes this replica's notices of grants ended elsewhere.</summary>
    private async Task<List<SettledGrant>> TakeNoticesAsync(GovernanceDbContext db, CancellationToken cancellationToken)
    {
        var replicaId = replica.Id;
        var notices = await db.GrantNotices.AsNoTracking()
            .Where(n => n.IssuerReplicaId == replicaId)
            .OrderBy(n => n.GrantId)
            .Take(10_000)
            .Select(n => new { n.GrantId, n.ExpiresAtMs })
            .ToListAsync(cancellationToken);
        if (notices.Count > 0)
        {
            using (await writeGate.EnterAsync(cancellationToken))
            {
                var ids = notices.Select(n => n.GrantId).ToList();
                await db.GrantNotices.Where(n => n.IssuerReplicaId == replicaId && ids.Contains(n.GrantId)).ExecuteDeleteAsync(cancellationToken);
            }
        }

        return notices.Select(n => new SettledGrant(new Guid(Convert.FromHexString(n.GrantId)), DateTimeOffset.FromUnixTimeMilliseconds(n.ExpiresAtMs))).ToList();
    }

    /// <summary>
    /// Extends the lease and reads what other replicas did. False when there is no lease: it was
    /// lost, or (a window new to this replica) there never was one, and then only the window's
    /// counter is read.
    /// </summary>
    public async Task<bool> RenewAsync(QuotaBucket bucket, CancellationToken cancellationToken)
    {
        using var entered = await writeGate.EnterAsync(cancellationToken);
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var expires = now + (long)options.Ttl.TotalMilliseconds;
        var leaseId = bucket.LeaseId;
        var hadLease = bucket.HoldsLease;
        var renewed = hadLease
            ? await db.CapacityLeases
                .Where(l => l.Id == leaseId && l.ExpiresAtMs > now)
                .ExecuteUpdateAsync(s => s.SetProperty(l => l.ExpiresAtMs, expires).SetProperty(l => l.RenewedAtMs, now), cancellationToken)
            : 0;
        var counter = await ReadCounterAsync(db, bucket, cancellationToken) ?? (0, 0);
        if (hadLease)
        {
            // Only a lease that was held and is gone is a refused renewal: counting the first read
            // of every new window as one made a healthy replica show refusals at each window's start.
            metrics.LeaseOperation("renew", renewed == 1);
        }

        var (key, window) = (bucket.CounterKey, bucket.WindowStartUnix);
        var othersFree = await OthersFree(db, now).Where(l => l.CounterKey == key && l.WindowStart == window)
            .SumAsync(l => l.Amount - l.DebitedByOwner - l.DebitedByOthers - l.Reclaimed - l.Held, cancellationToken);
        if (renewed == 0)
        {
            bucket.LeaseLost();
            bucket.Observe(default, counter.Consumed, counter.Leased, time.GetUtcNow(), othersFree);
            return false;
        }

        bucket.Observe(await ReadLeaseStateAsync(db, bucket, cancellationToken), counter.Consumed, counter.Leased, time.GetUtcNow(), othersFree);
        return true;
    }

    /// <summary>
    /// Gives the capacity of expired leases (of dead or stalled replicas) back to their windows,
    /// and forgets notices for grants that have long expired (their issuers are gone, or freed them).
    /// </summary>
    public async Task<int> ReclaimExpiredAsync(CancellationToken cancellationToken)
    {
        using var entered = await writeGate.EnterAsync(cancellationToken);
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var expired = await db.CapacityLeases.AsNoTracking()
            .Where(l => l.ExpiresAtMs <= now)
            .OrderBy(l => l.ExpiresAtMs)
            .Take(100)
            .ToListAsync(cancellationToken);
        var reclaimed = 0;
        foreach (var lease in expired)
        {
            await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
            var id = lease.Id;

            // A no-op update locks the row: a settlement debiting it now waits, then finds it gone,
            // so the balance read next is the balance deleted.
            var locked = await db.CapacityLeases.Where(l => l.Id == id && l.ExpiresAtMs <= now)
                .ExecuteUpdateAsync(s => s.SetProperty(l => l.ExpiresAtMs, l => l.ExpiresAtMs), cancellationToken);
            var current = locked == 1
                ? await db.CapacityLeases.AsNoTracking().Where(l => l.Id == id).Select(l => new { Balance = l.Amount - l.DebitedByOwner - l.DebitedByOthers - l.Reclaimed }).FirstOrDefaultAsync(cancellationToken)
                : null;
            var deleted = current is null ? 0 : await db.CapacityLeases.Where(l => l.Id == id).ExecuteDeleteAsync(cancellationToken);
            if (deleted == 1)
            {
                var balance = current!.Balance;
                await db.QuotaCounters
                    .Where(c => c.CounterKey == lease.CounterKey && c.WindowStart == lease.WindowStart)
                    .ExecuteUpdateAsync(s => s.SetProperty(c => c.Leased, c => c.Leased - balance), cancellationToken);
                reclaimed++;
            }

            await transaction.CommitAsync(cancellationToken);
        }

        var moot = now - (long)options.Ttl.TotalMilliseconds;
        await db.GrantNotices.Where(n => n.ExpiresAtMs < moot).ExecuteDeleteAsync(cancellationToken);
        if (reclaimed > 0)
        {
            metrics.LeaseOperation("reclaim", succeeded: true);
            LogReclaimed(logger, reclaimed);
        }

        return reclaimed;
    }

    /// <summary>
    /// Takes back the free part of other replicas' leases, what is beyond their declared holds:
    /// of replicas silent for Leases:ReclaimFreeAfter (<paramref name="window"/> null), or, when a
    /// grant here finds its window's pool empty, of every other replica's lease on that window.
    /// The holds stay, so no owner loses what it may still grant from; each take is one
    /// conditional update on the values read, so an owner's concurrent change wins.
    /// </summary>
    public async Task<long> ReclaimFreeAsync((string CounterKey, long WindowStart)? window, CancellationToken cancellationToken)
    {
        using var entered = await writeGate.EnterAsync(cancellationToken);
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var silentSince = now - (long)options.ReclaimFreeAfter.TotalMilliseconds;
        var candidates = OthersFree(db, now);
        candidates = window is { } w
            ? candidates.Where(l => l.CounterKey == w.CounterKey && l.WindowStart == w.WindowStart)
            : candidates.Where(l => l.RenewedAtMs <= silentSince);
        var leases = await candidates.OrderBy(l => l.Id).Take(100).ToListAsync(cancellationToken);
        long total = 0;
        foreach (var lease in leases)
        {
            var free = lease.Amount - lease.DebitedByOwner - lease.DebitedByOthers - lease.Reclaimed - lease.Held;
            await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
            var taken = await db.CapacityLeases
                .Where(l => l.Id == lease.Id && l.ExpiresAtMs > now && l.Amount == lease.Amount && l.DebitedByOwner == lease.DebitedByOwner
                    && l.DebitedByOthers == lease.DebitedByOthers && l.Reclaimed == lease.Reclaimed && l.Held == lease.Held)
                .ExecuteUpdateAsync(s => s.SetProperty(l => l.Reclaimed, l => l.Reclaimed + free), cancellationToken);
            if (taken == 1)
            {
                await db.QuotaCounters
                    .Where(c => c.CounterKey == lease.CounterKey && c.WindowStart == lease.WindowStart)
                    .ExecuteUpdateAsync(s => s.SetProperty(c => c.Leased, c => c.Leased - free), cancellationToken);
                total += free;
            }

            await transaction.CommitAsync(cancellationToken);
        }

        if (total > 0)
        {
            metrics.LeaseOperation(window is null ? "reclaim_silent" : "reclaim_for_grant", succeeded: true);
            if (window is null)
            {
                LogReclaimedFree(logger, total, leases.Count);
            }
        }

        return total;
    }

    /// <summary>
    /// Other replicas' live leases with capacity beyond their holds: what <see cref="ReclaimFreeAsync"/>
    /// may take. RenewedAtMs 0 marks a lease of a version before holds were declared, whose owner does
    /// not keep to one: it returns only when it expires.
    /// </summary>
    private IQueryable<CapacityLease> OthersFree(GovernanceDbContext db, long now)
    {
        var replicaId = replica.Id;
        return db.CapacityLeases.AsNoTracking()
            .Where(l => l.ReplicaId != replicaId && l.RenewedAtMs > 0 && l.ExpiresAtMs > now && l.Amount - l.DebitedByOwner - l.DebitedByOthers - l.Reclaimed > l.Held);
    }

    private static async Task<(long Consumed, long Leased)?> ReadCounterAsync(GovernanceDbContext db, QuotaBucket bucket, CancellationToken cancellationToken)
    {
        var key = bucket.CounterKey;
        var window = bucket.WindowStartUnix;
        var row = await db.QuotaCounters.AsNoTracking()
            .Where(c => c.CounterKey == key && c.WindowStart == window)
            .Select(c => new { c.Consumed, c.Leased })
            .FirstOrDefaultAsync(cancellationToken);
        return row is null ? null : (row.Consumed, row.Leased);
    }

    private static async Task<LeaseState> ReadLeaseStateAsync(GovernanceDbContext db, QuotaBucket bucket, CancellationToken cancellationToken)
    {
        var leaseId = bucket.LeaseId;
        var row = await db.CapacityLeases.AsNoTracking()
            .Where(l => l.Id == leaseId)
            .Select(l => new { l.DebitedByOthers, l.Reclaimed })
            .FirstOrDefaultAsync(cancellationToken);
        return row is null ? default : new LeaseState(row.DebitedByOthers, row.Reclaimed);
    }

    /// <summary>Creates the window's counter unless another replica just did: a race every new window can have, and no error.</summary>
    private Task CreateCounterAsync(GovernanceDbContext db, QuotaBucket bucket, CancellationToken cancellationToken) =>
        Sql(db).CreateCounterAsync(db, bucket.CounterKey, bucket.WindowStartUnix, cancellationToken);

    private LedgerSql Sql(GovernanceDbContext db) => statements ??= LedgerSql.For(db);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not grow the lease on {CounterKey}: the counter kept changing.")]
    private static partial void LogGrowGaveUp(ILogger logger, string counterKey);

    [LoggerMessage(Level = LogLevel.Information, Message = "Reclaimed {Count} expired capacity leases.")]
    private static partial void LogReclaimed(ILogger logger, int count);

    [LoggerMessage(Level = LogLevel.Information, Message = "Took back {Amount} of free capacity from {Count} leases of replicas that stopped renewing.")]
    private static partial void LogReclaimedFree(ILogger logger, long amount, int count);

    private enum GrowOutcome
    {
        Retry,
        Grown,
        Refused,
        LeaseExpired,
    }
}
