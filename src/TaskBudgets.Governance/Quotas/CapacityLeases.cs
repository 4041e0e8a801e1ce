using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using TaskBudgets.Governance.Storage;
using TaskBudgets.Governance.Telemetry;

namespace TaskBudgets.Governance.Quotas;

/// <summary>
/// The database side of leases. Each change is one atomic conditional update of the window's
/// counter: the database refuses a lease that would take the window past its limit.
/// Callers hold the bucket's <see cref="QuotaBucket.LeaseGate"/>.
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

    /// <summary>
    /// Grows the bucket's lease by <paramref name="wanted"/>, or by less if the window has less left,
    /// but never by less than <paramref name="needed"/>. Returns what was added (0: refused).
    /// </summary>
    /// <param name="forGrant">A grant is waiting for it (else the renewal grows ahead of need); for the metric.</param>
    /// <param name="counter">
    /// The window's counter as the caller has just read it (the renewal pass), so the first attempt
    /// need not read it again; the conditional update still refuses what the window no longer has.
    /// </param>
    public async Task<long> GrowAsync(QuotaBucket bucket, long needed, long wanted, bool forGrant, (long Consumed, long Leased)? counter, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var expires = now + (long)options.Ttl.TotalMilliseconds;
        for (var attempt = 0; attempt < 3; attempt++)
        {
            var (outcome, amount) = await TryGrowOnceAsync(bucket, needed, wanted, now, expires, forGrant, attempt == 0 ? counter : null, cancellationToken);
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
        QuotaBucket bucket, long needed, long wanted, long now, long expires, bool forGrant, (long Consumed, long Leased)? known, CancellationToken cancellationToken)
    {
        var limit = bucket.Quota.Limit;
        using var entered = await writeGate.EnterAsync(cancellationToken);
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var counter = known ?? await ReadCounterAsync(db, bucket, cancellationToken);
        if (counter is null)
        {
            if (!await TryCreateCounterAsync(db, bucket, cancellationToken))
            {
                return (GrowOutcome.Retry, 0);
            }

            counter = (0, 0);
        }

        var pool = limit - counter.Value.Consumed - counter.Value.Leased;
        if (known is null)
        {
            bucket.Observe(await ReadDebitedElsewhereAsync(db, bucket, cancellationToken), counter.Value.Consumed, counter.Value.Leased, time.GetUtcNow());
        }

        if (pool < needed)
        {
            metrics.LeaseGrown(succeeded: false, forGrant);
            return (GrowOutcome.Refused, 0);
        }

        // Beyond the immediate need, take at most a share of what is left: near the limit,
        // the rest stays available to other replicas.
        var extra = Math.Max(0, wanted - needed);
        var cap = (long)((pool - needed) * options.MaxPoolShare);
        var amount = needed + Math.Min(extra, cap);
        if (amount <= 0)
        {
            return (GrowOutcome.Refused, 0);
        }

        // Rows are taken lease first, counter second, as every other writer of both does
        // (settlement, return, reclaim): one order, so concurrent writers cannot deadlock.
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        var key = bucket.CounterKey;
        var window = bucket.WindowStartUnix;
        var leaseId = bucket.LeaseId;
        var extended = await db.CapacityLeases
            .Where(l => l.Id == leaseId && l.ExpiresAtMs > now)
            .ExecuteUpdateAsync(s => s.SetProperty(l => l.Amount, l => l.Amount + amount).SetProperty(l => l.ExpiresAtMs, expires), cancellationToken);
        var newLease = extended == 0;
        if (newLease)
        {
            // No live lease: a first lease, or one that expired and is reclaimed (or about to be).
            if (await db.CapacityLeases.AnyAsync(l => l.Id == leaseId, cancellationToken))
            {
                await transaction.RollbackAsync(cancellationToken);
                return (GrowOutcome.LeaseExpired, 0);
            }

            db.CapacityLeases.Add(new CapacityLease
            {
                Id = leaseId,
                CounterKey = key,
                WindowStart = window,
                ReplicaId = replica.Id,
                Amount = amount,
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
        bucket.Observe(0, counter.Value.Consumed, counter.Value.Leased + amount, time.GetUtcNow());
        metrics.LeaseGrown(succeeded: true, forGrant);
        return (GrowOutcome.Grown, amount);
    }

    /// <summary>Returns up to <paramref name="amount"/> of the lease's free capacity to the window.</summary>
    public async Task<long> ReturnAsync(QuotaBucket bucket, long amount, CancellationToken cancellationToken)
    {
        var taken = bucket.TakeFree(amount);
        if (taken == 0)
        {
            return 0;
        }

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
                .Where(l => l.Id == leaseId && l.ExpiresAtMs > now)
                .ExecuteUpdateAsync(s => s.SetProperty(l => l.Amount, l => l.Amount - taken), cancellationToken);
            if (shrunk == 1)
            {
                await db.QuotaCounters
                    .Where(c => c.CounterKey == key && c.WindowStart == window)
                    .ExecuteUpdateAsync(s => s.SetProperty(c => c.Leased, c => c.Leased - taken), cancellationToken);
            }

            await transaction.CommitAsync(cancellationToken);
            metrics.LeaseOperation("return", succeeded: true);
            return taken;
        }
        catch
        {
            bucket.AddLeased(taken);
            metrics.LeaseFailed("return");
            throw;
        }
    }

    /// <summary>
    /// Extends the live leases of <paramref name="buckets"/> in one transaction, then reads, for
    /// the renewal pass, what other replicas debited from them and their windows' counters. One
    /// commit per pass instead of one per bucket: on SQLite each commit has its own fsync under the
    /// one write lock the group commit waits for. The leases are taken in id order, the order
    /// the group commit takes them in, so the two cannot deadlock.
    /// </summary>
    public async Task<LeaseReadings> RenewAllAsync(IReadOnlyCollection<QuotaBucket> buckets, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var expires = now + (long)options.Ttl.TotalMilliseconds;
        var ids = buckets.Select(b => b.LeaseId).Order(StringComparer.Ordinal).ToList();
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        using (await writeGate.EnterAsync(cancellationToken))
        {
            await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
            var sql = statements ??= LedgerSql.For(db);
            var renewed = await sql.ExtendLeasesAsync(db, ids, expires, now);
            await transaction.CommitAsync(cancellationToken);
            metrics.LeaseOperation("renew", succeeded: true, renewed.Count(r => r));
        }

        // A lease extended just now expires at `expires` or later (a grow since extends it further);
        // one that expires sooner was lost, or created by a grow racing this pass: renewed on its own.
        var replicaId = replica.Id;
        var alive = await db.CapacityLeases.AsNoTracking()
            .Where(l => l.ReplicaId == replicaId && l.ExpiresAtMs >= expires)
            .Select(l => new { l.Id, l.DebitedByOthers })
            .ToDictionaryAsync(l => l.Id, l => l.DebitedByOthers, StringComparer.Ordinal, cancellationToken);
        var keys = buckets.Select(b => b.CounterKey).Distinct().ToList();
        var windows = buckets.Select(b => b.WindowStartUnix).Distinct().ToList();
        var counters = await db.QuotaCounters.AsNoTracking()
            .Where(c => keys.Contains(c.CounterKey) && windows.Contains(c.WindowStart))
            .Select(c => new { c.CounterKey, c.WindowStart, c.Consumed, c.Leased })
            .ToDictionaryAsync(c => (c.CounterKey, c.WindowStart), c => (c.Consumed, c.Leased), cancellationToken);
        return new LeaseReadings(alive, counters, time.GetUtcNow());
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
                .ExecuteUpdateAsync(s => s.SetProperty(l => l.ExpiresAtMs, expires), cancellationToken)
            : 0;
        var counter = await ReadCounterAsync(db, bucket, cancellationToken) ?? (0, 0);
        if (hadLease)
        {
            // Only a lease that was held and is gone is a refused renewal: counting the first read
            // of every new window as one made a healthy replica show refusals at each window's start.
            metrics.LeaseOperation("renew", renewed == 1);
        }

        if (renewed == 0)
        {
            bucket.LeaseLost();
            bucket.Observe(0, counter.Consumed, counter.Leased, time.GetUtcNow());
            return false;
        }

        bucket.Observe(await ReadDebitedElsewhereAsync(db, bucket, cancellationToken), counter.Consumed, counter.Leased, time.GetUtcNow());
        return true;
    }

    /// <summary>Gives the capacity of expired leases (of dead or stalled replicas) back to their windows.</summary>
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
                ? await db.CapacityLeases.AsNoTracking().Where(l => l.Id == id).Select(l => new { l.Amount, l.DebitedByOwner, l.DebitedByOthers }).FirstOrDefaultAsync(cancellationToken)
                : null;
            var deleted = current is null ? 0 : await db.CapacityLeases.Where(l => l.Id == id).ExecuteDeleteAsync(cancellationToken);
            if (deleted == 1)
            {
                var balance = current!.Amount - current.DebitedByOwner - current.DebitedByOthers;
                await db.QuotaCounters
                    .Where(c => c.CounterKey == lease.CounterKey && c.WindowStart == lease.WindowStart)
                    .ExecuteUpdateAsync(s => s.SetProperty(c => c.Leased, c => c.Leased - balance), cancellationToken);
                reclaimed++;
            }

            await transaction.CommitAsync(cancellationToken);
        }

        if (reclaimed > 0)
        {
            metrics.LeaseOperation("reclaim", succeeded: true);
            LogReclaimed(logger, reclaimed);
        }

        return reclaimed;
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

    private static async Task<long> ReadDebitedElsewhereAsync(GovernanceDbContext db, QuotaBucket bucket, CancellationToken cancellationToken)
    {
        var leaseId = bucket.LeaseId;
        return await db.CapacityLeases.AsNoTracking()
            .Where(l => l.Id == leaseId)
            .Select(l => l.DebitedByOthers)
            .FirstOrDefaultAsync(cancellationToken);
    }

    private static async Task<bool> TryCreateCounterAsync(GovernanceDbContext db, QuotaBucket bucket, CancellationToken cancellationToken)
    {
        db.QuotaCounters.Add(new QuotaCounter { CounterKey = bucket.CounterKey, WindowStart = bucket.WindowStartUnix });
        try
        {
            await db.SaveChangesAsync(cancellationToken);
            return true;
        }
        catch (DbUpdateException)
        {
            // Another replica created it first; the caller reads it again.
            return false;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not grow the lease on {CounterKey}: the counter kept changing.")]
    private static partial void LogGrowGaveUp(ILogger logger, string counterKey);

    [LoggerMessage(Level = LogLevel.Information, Message = "Reclaimed {Count} expired capacity leases.")]
    private static partial void LogReclaimed(ILogger logger, int count);

    private enum GrowOutcome
    {
        Retry,
        Grown,
        Refused,
        LeaseExpired,
    }
}
