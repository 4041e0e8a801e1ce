using System.Diagnostics;
using System.Threading.Channels;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace TaskBudgets.Governance.Storage;

/// <summary>
/// Group commit: settlements from many callers are written in one transaction, and each caller
/// awaits its batch's commit, so an acknowledged report is durable. Once-only by the settlement
/// row's primary key: a retried report finds its first row and changes nothing.
/// </summary>
public sealed partial class ReportWriter(
    [FromKeyedServices(ReportWriter.Contexts)] IDbContextFactory<GovernanceDbContext> contexts,
    IOptions<ReportWriterOptions> options,
    SqliteWriteGate writeGate,
    TimeProvider time,
    StorageMetrics metrics,
    StorageOutage outage,
    ILogger<ReportWriter> logger) : BackgroundService
{
    /// <summary>The service key of the writer's own context factory (and so its own connection pool).</summary>
    public const string Contexts = "report-writer";

    private readonly Channel<Pending> queue = Channel.CreateBounded<Pending>(new BoundedChannelOptions(options.Value.QueueCapacity)
    {
        SingleReader = true,
        FullMode = BoundedChannelFullMode.Wait,
    });

    private readonly int maxBatch = options.Value.MaxBatchSize;
    private LedgerSql? statements;

    /// <summary>Queues a settlement and completes once it is committed (or fails with the storage error).</summary>
    public async Task<SettlementOutcome> SubmitAsync(SettlementCommand command, CancellationToken cancellationToken)
    {
        var pending = new Pending(command, new TaskCompletionSource<SettlementOutcome>(TaskCreationOptions.RunContinuationsAsynchronously));
        await queue.Writer.WriteAsync(pending, cancellationToken);

        // The caller may stop waiting, but a queued settlement is committed all the same.
        return await pending.Completion.Task.WaitAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var batch = new List<Pending>(maxBatch);
        try
        {
            while (await queue.Reader.WaitToReadAsync(stoppingToken))
            {
                await DrainAsync(batch);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down: commit what callers are already waiting for.
            queue.Writer.TryComplete();
            await DrainAsync(batch);
        }
    }

    private async Task DrainAsync(List<Pending> batch)
    {
        while (true)
        {
            batch.Clear();
            while (batch.Count < maxBatch && queue.Reader.TryRead(out var item))
            {
                batch.Add(item);
            }

            if (batch.Count == 0)
            {
                return;
            }

            await CommitWithFallbackAsync(batch);
        }
    }

    private async Task CommitWithFallbackAsync(List<Pending> batch)
    {
        try
        {
            var started = Stopwatch.GetTimestamp();
            var outcomes = await CommitAsync(batch);
            metrics.Flushed(batch.Count, Stopwatch.GetElapsedTime(started));
            outage.Succeeded();
            for (var i = 0; i < batch.Count; i++)
            {
                batch[i].Completion.TrySetResult(outcomes[i]);
            }

            return;
        }
        catch (Exception e) when (StorageOutage.IsOutage(e))
        {
            // The database is away, not one settlement bad: committing them one by one would only
            // fail again (each after its own connect timeout). Every caller gets UNAVAILABLE and retries.
            metrics.FlushFailed();
            outage.Failed("committing reports", e);
            foreach (var item in batch)
            {
                item.Completion.TrySetException(e);
            }

            return;
        }
        catch (Exception e) when (batch.Count > 1)
        {
            metrics.FlushFailed();
            // One bad settlement (or a race with another replica) must not fail its neighbours.
            LogBatchFailed(logger, batch.Count, e);
        }
        catch (Exception e)
        {
            metrics.FlushFailed();
            LogCommitFailed(logger, e);
            batch[0].Completion.TrySetException(e);
            return;
        }

        foreach (var item in batch)
        {
            try
            {
                var outcomes = await CommitAsync([item]);
                outage.Succeeded();
                item.Completion.TrySetResult(outcomes[0]);
            }
            catch (Exception e) when (StorageOutage.IsOutage(e))
            {
                // Gone while committing one by one: the rest fail the same way, one line for all.
                outage.Failed("committing reports", e);
                item.Completion.TrySetException(e);
            }
            catch (Exception e)
            {
                LogCommitFailed(logger, e);
                item.Completion.TrySetException(e);
            }
        }
    }

    private async Task<SettlementOutcome[]> CommitAsync(List<Pending> batch)
    {
        using var entered = await writeGate.EnterAsync(CancellationToken.None);
        await using var db = await contexts.CreateDbContextAsync();
        await using var transaction = await db.Database.BeginTransactionAsync();
        var sql = statements ??= LedgerSql.For(db);
        var nowMs = time.GetUtcNow().ToUnixTimeMilliseconds();

        // Each id's first settlement in the batch is inserted, in id order (the lock order every
        // writer of settlements uses), unless a row with that id is already stored.
        var firsts = new Dictionary<string, int>(batch.Count, StringComparer.Ordinal);
        var inserts = new List<Settlement>(batch.Count);
        for (var i = 0; i < batch.Count; i++)
        {
            if (firsts.TryAdd(batch[i].Command.Row.Id, i))
            {
                inserts.Add(batch[i].Command.Row);
            }
        }

        inserts.Sort((a, b) => string.CompareOrdinal(a.Id, b.Id));
        var inserted = await sql.InsertAsync(db, inserts);
        var fresh = new bool[batch.Count];
        for (var i = 0; i < batch.Count; i++)
        {
            var id = batch[i].Command.Row.Id;
            fresh[i] = firsts[id] == i && inserted.Contains(id);
        }

        // Retries (of a stored row, or repeated within the batch) are rare: only they read rows back.
        var stored = await StoredRowsAsync(db, batch, fresh);
        var work = new SettlementBatch(batch.Sum(p => p.Command.Debits.Count));
        var outcomes = new SettlementOutcome[batch.Count];
        for (var i = 0; i < batch.Count; i++)
        {
            var command = batch[i].Command;
            var debited = new bool[command.Debits.Count];
            if (fresh[i])
            {
                work.Add(command, debited);
                if (command.Notice is { } notice)
                {
                    db.GrantNotices.Add(notice);
                }

                outcomes[i] = new SettlementOutcome(command.Row, Duplicate: false, debited);
                continue;
            }

            var row = stored[command.Row.Id];
            if (command.CountsAfter == (SettlementKind)row.Kind)
            {
                // The earlier settlement ended the reservation, so this one leaves the leases alone.
                CopyUsage(command.Row, row);
                row.Late = true;
                work.Add(command, debited, touchesLeases: false);
                outcomes[i] = new SettlementOutcome(row, Duplicate: false, debited);
            }
            else
            {
                outcomes[i] = new SettlementOutcome(row, Duplicate: true, debited);
            }
        }

        // One change per lease, counter and task budget touched, each set sorted and taken in the
        // order every writer uses (leases, then counters): no per-report round trips, no deadlocks.
        var leases = work.LeasesInOrder();
        var took = await sql.DebitLeasesAsync(db, leases, nowMs);
        for (var l = 0; l < leases.Length; l++)
        {
            if (took[l])
            {
                leases[l].MarkAllDebited();
                continue;
            }

            // The lease cannot take the sum (expired, or short): its debits one by one, in batch order.
            foreach (var item in leases[l].Items)
            {
                var debited = await sql.DebitLeaseAsync(db, item.Debit, nowMs);
                item.Debited = debited;
            }
        }

        var counters = work.CounterDeltas();
        var found = await sql.AddAsync(db, counters, work.TaskUses);
        for (var c = 0; c < counters.Length; c++)
        {
            if (!found[c])
            {
                // A window nobody leased from yet (a report without a grant): created unless another
                // replica creates it at the same moment, then counted like the others.
                var ((key, window), _) = counters[c];
                await sql.CreateCounterAsync(db, key, window, CancellationToken.None);
                await sql.AddAsync(db, [counters[c]], new Dictionary<(string, string), long>());
            }
        }

        await db.SaveChangesAsync();
        await transaction.CommitAsync();
        return outcomes;
    }

    /// <summary>The stored rows (tracked, so a late report can update one) of the settlements this batch did not insert.</summary>
    private static async Task<Dictionary<string, Settlement>> StoredRowsAsync(GovernanceDbContext db, List<Pending> batch, bool[] fresh)
    {
        var ids = new List<string>();
        for (var i = 0; i < batch.Count; i++)
        {
            if (!fresh[i] && !ids.Contains(batch[i].Command.Row.Id))
            {
                ids.Add(batch[i].Command.Row.Id);
            }
        }

        return ids.Count == 0
            ? new Dictionary<string, Settlement>(StringComparer.Ordinal)
            : await db.Settlements.Where(s => ids.Contains(s.Id)).ToDictionaryAsync(s => s.Id, StringComparer.Ordinal);
    }

    private static void CopyUsage(Settlement from, Settlement to)
    {
        to.Kind = from.Kind;
        to.InputTokens = from.InputTokens;
        to.CachedInputTokens = from.CachedInputTokens;
        to.CacheWriteInputTokens = from.CacheWriteInputTokens;
        to.OutputTokens = from.OutputTokens;
        to.ReasoningTokens = from.ReasoningTokens;
        to.CostMicros = from.CostMicros;
        to.StopReason = from.StopReason;
        to.Outcome = from.Outcome;
        to.LatencyMs = from.LatencyMs;
        to.OverGrant = from.OverGrant;
        to.Truncated = from.Truncated;
        to.SettledAtMs = from.SettledAtMs;
        to.QuotasJson = from.QuotasJson;
    }

    private sealed record Pending(SettlementCommand Command, TaskCompletionSource<SettlementOutcome> Completion);

    [LoggerMessage(Level = LogLevel.Warning, Message = "A batch of {Count} settlements failed; committing them one by one.")]
    private static partial void LogBatchFailed(ILogger logger, int count, Exception exception);

    // Not an outage (StorageOutage tells of those): this settlement itself failed, and someone should look.
    [LoggerMessage(Level = LogLevel.Error, Message = "A settlement could not be committed; its caller gets UNAVAILABLE.")]
    private static partial void LogCommitFailed(ILogger logger, Exception exception);
}
