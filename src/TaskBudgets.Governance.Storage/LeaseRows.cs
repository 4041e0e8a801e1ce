using Microsoft.EntityFrameworkCore;

namespace TaskBudgets.Governance.Storage;

/// <summary>
/// The capacity_leases, quota_counters and grant_notices tables as the lease owner and the other
/// replicas change them. Every change is one atomic conditional update: the database refuses a
/// lease that would take a window past its limit, and a hold (what an owner may still claim) its
/// lease's balance does not cover. Leases are taken before counters (<see cref="LockOrder"/>).
/// </summary>
public sealed class LeaseRows(IDbContextFactory<GovernanceDbContext> contexts, SqliteWriteGate writeGate)
{
    private LedgerSql? statements;

    /// <summary>
    /// One attempt to grow lease <paramref name="lease"/> on its window. Reads the window's counter
    /// (unless <paramref name="known"/> gives it) and, when it read, the lease's takings (none when
    /// it was given); asks
    /// <paramref name="plan"/> how much to add and what hold to declare (null: nothing), then
    /// extends the lease, or creates it, and takes the amount from the counter, all or nothing.
    /// </summary>
    public async Task<LeaseGrowth> TryGrowAsync(
        LeaseKey lease,
        string replicaId,
        long limit,
        (long Consumed, long Leased)? known,
        Func<(long Consumed, long Leased), LeaseTakings?, LeasePlan?> plan,
        long nowMs,
        long expiresMs,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(lease);
        ArgumentNullException.ThrowIfNull(plan);
        using var entered = await writeGate.EnterAsync(cancellationToken);
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var counter = known ?? await ReadCounterAsync(db, lease.CounterKey, lease.WindowStart, cancellationToken);
        if (counter is null)
        {
            await Sql(db).CreateCounterAsync(db, lease.CounterKey, lease.WindowStart, cancellationToken);
            counter = (0, 0);
        }

        var takings = known is null ? await ReadTakingsAsync(db, lease.Id, cancellationToken) ?? default : (LeaseTakings?)null;
        if (plan(counter.Value, takings) is not { } wanted)
        {
            return new LeaseGrowth(LeaseGrowthOutcome.Refused, counter.Value, default);
        }

        var (id, key, window, amount) = (lease.Id, lease.CounterKey, lease.WindowStart, wanted.Amount);
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        var extended = await db.CapacityLeases
            .Where(l => l.Id == id && l.ExpiresAtMs > nowMs && l.Amount + amount - l.DebitedByOwner - l.DebitedByOthers - l.Reclaimed >= wanted.Held)
            .ExecuteUpdateAsync(
                s => s.SetProperty(l => l.Amount, l => l.Amount + amount)
                    .SetProperty(l => l.ExpiresAtMs, expiresMs)
                    .SetProperty(l => l.RenewedAtMs, nowMs)
                    .SetProperty(l => l.Held, wanted.Held)
                    .SetProperty(l => l.Reserved, wanted.Reserved),
                cancellationToken);
        var created = extended == 0;
        if (created)
        {
            var existing = await db.CapacityLeases.AsNoTracking().Where(l => l.Id == id).Select(l => new { l.ExpiresAtMs }).FirstOrDefaultAsync(cancellationToken);
            if (existing is not null)
            {
                await transaction.RollbackAsync(cancellationToken);

                // Expired (and reclaimed, or about to be), or its balance shrank under the owner's
                // view: another replica took back free capacity.
                return new LeaseGrowth(existing.ExpiresAtMs <= nowMs ? LeaseGrowthOutcome.LeaseExpired : LeaseGrowthOutcome.Retry, counter.Value, default);
            }

            // A new lease holds at most what it is: grants of a lost one had their hold there.
            wanted = wanted with { Held = Math.Min(wanted.Held, amount), Reserved = Math.Min(wanted.Reserved, amount) };
            db.CapacityLeases.Add(new CapacityLease
            {
                Id = id,
                CounterKey = key,
                WindowStart = window,
                ReplicaId = replicaId,
                Amount = amount,
                Held = wanted.Held,
                Reserved = wanted.Reserved,
                RenewedAtMs = nowMs,
                ExpiresAtMs = expiresMs,
            });
            await db.SaveChangesAsync(cancellationToken);
        }

        var taken = await db.QuotaCounters
            .Where(c => c.CounterKey == key && c.WindowStart == window && c.Consumed + c.Leased + amount <= limit)
            .ExecuteUpdateAsync(s => s.SetProperty(c => c.Leased, c => c.Leased + amount), cancellationToken);
        if (taken == 0)
        {
            // Another replica took capacity since the read.
            await transaction.RollbackAsync(cancellationToken);
            return new LeaseGrowth(LeaseGrowthOutcome.Retry, counter.Value, default);
        }

        await transaction.CommitAsync(cancellationToken);
        return new LeaseGrowth(created ? LeaseGrowthOutcome.Created : LeaseGrowthOutcome.Extended, counter.Value, wanted);
    }

    /// <summary>Declares the lease's hold as it is; false when the lease is gone or its balance does not cover the hold.</summary>
    public async Task<bool> DeclareAsync(string leaseId, long held, long reserved, long nowMs, CancellationToken cancellationToken)
    {
        using var entered = await writeGate.EnterAsync(cancellationToken);
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        return await db.CapacityLeases
            .Where(l => l.Id == leaseId && l.ExpiresAtMs > nowMs && l.Amount - l.DebitedByOwner - l.DebitedByOthers - l.Reclaimed >= held)
            .ExecuteUpdateAsync(s => s.SetProperty(l => l.Held, held).SetProperty(l => l.Reserved, reserved).SetProperty(l => l.RenewedAtMs, nowMs), cancellationToken) == 1;
    }

    /// <summary>
    /// Returns <paramref name="amount"/> of the lease to its window and declares the hold, all or
    /// nothing; false when the lease is gone or what would stay does not cover the hold.
    /// </summary>
    public async Task<bool> ShrinkAsync(LeaseKey lease, long amount, long held, long reserved, long nowMs, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(lease);
        var (id, key, window) = (lease.Id, lease.CounterKey, lease.WindowStart);
        using var entered = await writeGate.EnterAsync(cancellationToken);
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        var shrunk = await db.CapacityLeases
            .Where(l => l.Id == id && l.ExpiresAtMs > nowMs && l.Amount - amount - l.DebitedByOwner - l.DebitedByOthers - l.Reclaimed >= held)
            .ExecuteUpdateAsync(s => s.SetProperty(l => l.Amount, l => l.Amount - amount).SetProperty(l => l.Held, held).SetProperty(l => l.Reserved, reserved), cancellationToken);
        if (shrunk == 1)
        {
            await db.QuotaCounters
                .Where(c => c.CounterKey == key && c.WindowStart == window)
                .ExecuteUpdateAsync(s => s.SetProperty(c => c.Leased, c => c.Leased - amount), cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        return shrunk == 1;
    }

    /// <summary>
    /// Extends and declares the holds of <paramref name="renewals"/> in one transaction, in the
    /// order given (id order, the order the group commit takes leases in). One commit per pass:
    /// on SQLite each commit has its own fsync under the one write lock.
    /// </summary>
    public async Task<(bool[] Renewed, bool[] Declared)> RenewAllAsync(IReadOnlyList<LeaseRenewalRow> renewals, long expiresMs, long nowMs, CancellationToken cancellationToken)
    {
        using var entered = await writeGate.EnterAsync(cancellationToken);
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        var result = await Sql(db).RenewLeasesAsync(db, renewals, expiresMs, nowMs);
        await transaction.CommitAsync(cancellationToken);
        return result;
    }

    /// <summary>
    /// Extends <paramref name="lease"/> (when <paramref name="held"/>) and reads its window:
    /// the counter, what other replicas' leases hold beyond their holds, and the lease's takings.
    /// </summary>
    public async Task<LeaseRenewed> RenewAsync(LeaseKey lease, bool held, string replicaId, long nowMs, long expiresMs, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(lease);
        var (id, key, window) = (lease.Id, lease.CounterKey, lease.WindowStart);
        using var entered = await writeGate.EnterAsync(cancellationToken);
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var renewed = held
            && await db.CapacityLeases
                .Where(l => l.Id == id && l.ExpiresAtMs > nowMs)
                .ExecuteUpdateAsync(s => s.SetProperty(l => l.ExpiresAtMs, expiresMs).SetProperty(l => l.RenewedAtMs, nowMs), cancellationToken) == 1;
        var counter = await ReadCounterAsync(db, key, window, cancellationToken) ?? (0, 0);
        var othersFree = await OthersFree(db, replicaId, nowMs).Where(l => l.CounterKey == key && l.WindowStart == window)
            .SumAsync(l => l.Amount - l.DebitedByOwner - l.DebitedByOthers - l.Reclaimed - l.Held, cancellationToken);
        var takings = renewed ? await ReadTakingsAsync(db, id, cancellationToken) ?? default : default;
        return new LeaseRenewed(renewed, counter, othersFree, takings);
    }

    /// <summary>The window's counter and the lease's takings, as they are now.</summary>
    public async Task<((long Consumed, long Leased) Counter, LeaseTakings Takings)> ReadAsync(LeaseKey lease, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(lease);
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var counter = await ReadCounterAsync(db, lease.CounterKey, lease.WindowStart, cancellationToken) ?? (0, 0);
        return (counter, await ReadTakingsAsync(db, lease.Id, cancellationToken) ?? default);
    }

    /// <summary>Per lease id of <paramref name="replicaId"/> expiring at <paramref name="expiringFrom"/> or later, what others took of it.</summary>
    public async Task<Dictionary<string, LeaseTakings>> ReadTakingsOfAsync(string replicaId, long expiringFrom, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        return await db.CapacityLeases.AsNoTracking()
            .Where(l => l.ReplicaId == replicaId && l.ExpiresAtMs >= expiringFrom)
            .Select(l => new { l.Id, l.DebitedByOthers, l.Reclaimed })
            .ToDictionaryAsync(l => l.Id, l => new LeaseTakings(l.DebitedByOthers, l.Reclaimed), StringComparer.Ordinal, cancellationToken);
    }

    /// <summary>Reads and deletes notices for <paramref name="replicaId"/> of its grants ended elsewhere (grant id in hex, expiry).</summary>
    public async Task<List<(string GrantId, long ExpiresAtMs)>> TakeNoticesAsync(string replicaId, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        return await TakeNoticesAsync(db, replicaId, cancellationToken);
    }

    private async Task<List<(string GrantId, long ExpiresAtMs)>> TakeNoticesAsync(GovernanceDbContext db, string replicaId, CancellationToken cancellationToken)
    {
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

        return notices.Select(n => (n.GrantId, n.ExpiresAtMs)).ToList();
    }

    /// <summary>
    /// What a renewal pass reads after renewing, on one connection: the notices of
    /// <paramref name="replicaId"/>'s grants ended elsewhere (read and deleted first: a settlement
    /// writes its notice and its debit together, so every grant noticed has its debit in the leases
    /// read next), the takings of its leases expiring at <paramref name="expiringFrom"/> or later,
    /// and the counters and others' free capacity of the windows given.
    /// </summary>
    public async Task<RenewalReadings> ReadAfterRenewalAsync(
        string replicaId, long expiringFrom, long nowMs, IReadOnlyCollection<string> keys, IReadOnlyCollection<long> windows, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var notices = await TakeNoticesAsync(db, replicaId, cancellationToken);
        var takings = await db.CapacityLeases.AsNoTracking()
            .Where(l => l.ReplicaId == replicaId && l.ExpiresAtMs >= expiringFrom)
            .Select(l => new { l.Id, l.DebitedByOthers, l.Reclaimed })
            .ToDictionaryAsync(l => l.Id, l => new LeaseTakings(l.DebitedByOthers, l.Reclaimed), StringComparer.Ordinal, cancellationToken);
        var counters = await db.QuotaCounters.AsNoTracking()
            .Where(c => keys.Contains(c.CounterKey) && windows.Contains(c.WindowStart))
            .Select(c => new { c.CounterKey, c.WindowStart, c.Consumed, c.Leased })
            .ToDictionaryAsync(c => (c.CounterKey, c.WindowStart), c => (c.Consumed, c.Leased), cancellationToken);
        var othersFree = await OthersFree(db, replicaId, nowMs)
            .Where(l => keys.Contains(l.CounterKey) && windows.Contains(l.WindowStart))
            .GroupBy(l => new { l.CounterKey, l.WindowStart })
            .Select(g => new { g.Key.CounterKey, g.Key.WindowStart, Free = g.Sum(l => l.Amount - l.DebitedByOwner - l.DebitedByOthers - l.Reclaimed - l.Held) })
            .ToDictionaryAsync(f => (f.CounterKey, f.WindowStart), f => f.Free, cancellationToken);
        return new RenewalReadings(notices, takings, counters, othersFree);
    }

    /// <summary>
    /// Gives the balance of up to 100 expired leases (of dead or stalled replicas) back to their
    /// windows, and forgets notices of grants that expired before <paramref name="noticesBefore"/>.
    /// Returns how many leases it reclaimed.
    /// </summary>
    public async Task<int> ReclaimExpiredAsync(long nowMs, long noticesBefore, CancellationToken cancellationToken)
    {
        using var entered = await writeGate.EnterAsync(cancellationToken);
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var expired = await db.CapacityLeases.AsNoTracking()
            .Where(l => l.ExpiresAtMs <= nowMs)
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
            var locked = await db.CapacityLeases.Where(l => l.Id == id && l.ExpiresAtMs <= nowMs)
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

        await db.GrantNotices.Where(n => n.ExpiresAtMs < noticesBefore).ExecuteDeleteAsync(cancellationToken);
        return reclaimed;
    }

    /// <summary>
    /// Takes back the free part (beyond the declared hold) of up to 100 other replicas' live leases:
    /// on <paramref name="window"/>, or, when it is null, of those not renewed since
    /// <paramref name="silentSince"/>. Each take is one conditional update on the values read, so
    /// an owner's concurrent change wins. Returns the capacity taken and the leases looked at.
    /// </summary>
    public async Task<(long Taken, int Looked)> ReclaimFreeAsync(string replicaId, (string CounterKey, long WindowStart)? window, long silentSince, long nowMs, CancellationToken cancellationToken)
    {
        using var entered = await writeGate.EnterAsync(cancellationToken);
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var candidates = OthersFree(db, replicaId, nowMs);
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
                .Where(l => l.Id == lease.Id && l.ExpiresAtMs > nowMs && l.Amount == lease.Amount && l.DebitedByOwner == lease.DebitedByOwner
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

        return (total, leases.Count);
    }

    /// <summary>
    /// Other replicas' live leases with capacity beyond their holds: what <see cref="ReclaimFreeAsync"/>
    /// may take. RenewedAtMs 0 marks a lease of a version before holds were declared, whose owner does
    /// not keep to one: it returns only when it expires.
    /// </summary>
    private static IQueryable<CapacityLease> OthersFree(GovernanceDbContext db, string replicaId, long nowMs) =>
        db.CapacityLeases.AsNoTracking()
            .Where(l => l.ReplicaId != replicaId && l.RenewedAtMs > 0 && l.ExpiresAtMs > nowMs && l.Amount - l.DebitedByOwner - l.DebitedByOthers - l.Reclaimed > l.Held);

    private static async Task<(long Consumed, long Leased)?> ReadCounterAsync(GovernanceDbContext db, string key, long window, CancellationToken cancellationToken)
    {
        var row = await db.QuotaCounters.AsNoTracking()
            .Where(c => c.CounterKey == key && c.WindowStart == window)
            .Select(c => new { c.Consumed, c.Leased })
            .FirstOrDefaultAsync(cancellationToken);
        return row is null ? null : (row.Consumed, row.Leased);
    }

    private static async Task<LeaseTakings?> ReadTakingsAsync(GovernanceDbContext db, string leaseId, CancellationToken cancellationToken)
    {
        var row = await db.CapacityLeases.AsNoTracking()
            .Where(l => l.Id == leaseId)
            .Select(l => new { l.DebitedByOthers, l.Reclaimed })
            .FirstOrDefaultAsync(cancellationToken);
        return row is null ? null : new LeaseTakings(row.DebitedByOthers, row.Reclaimed);
    }

    private LedgerSql Sql(GovernanceDbContext db) => statements ??= LedgerSql.For(db);
}

/// <summary>A lease and the window it is on.</summary>
public sealed record LeaseKey(string Id, string CounterKey, long WindowStart);

/// <summary>What other replicas settled on a lease and took back of it.</summary>
public readonly record struct LeaseTakings(long DebitedByOthers, long Reclaimed);

/// <summary>What to add to a lease and the hold to declare with it.</summary>
public readonly record struct LeasePlan(long Amount, long Held, long Reserved);

/// <summary>How an attempt to grow a lease ended.</summary>
public enum LeaseGrowthOutcome
{
    /// <summary>Something changed under it (the counter, or the lease's balance): read again and retry.</summary>
    Retry,

    /// <summary>The lease grew.</summary>
    Extended,

    /// <summary>There was no lease: a new one was created with the amount.</summary>
    Created,

    /// <summary>Nothing was asked for, or the plan refused.</summary>
    Refused,

    /// <summary>The lease expired: reclaim it and start a new one.</summary>
    LeaseExpired,
}

/// <summary>An attempt to grow a lease: how it ended, the counter it read, and the plan written (holds clamped for a new lease).</summary>
public sealed record LeaseGrowth(LeaseGrowthOutcome Outcome, (long Consumed, long Leased) Counter, LeasePlan Written);

/// <summary>A lease's renewal: whether it was extended, and its window as read.</summary>
public sealed record LeaseRenewed(bool Renewed, (long Consumed, long Leased) Counter, long OthersFree, LeaseTakings Takings);

/// <summary>What a renewal pass reads after renewing (see <see cref="LeaseRows.ReadAfterRenewalAsync"/>).</summary>
public sealed record RenewalReadings(
    IReadOnlyList<(string GrantId, long ExpiresAtMs)> Notices,
    IReadOnlyDictionary<string, LeaseTakings> Takings,
    IReadOnlyDictionary<(string CounterKey, long WindowStart), (long Consumed, long Leased)> Counters,
    IReadOnlyDictionary<(string CounterKey, long WindowStart), long> OthersFree);
