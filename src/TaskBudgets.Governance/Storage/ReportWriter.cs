using System.Diagnostics;
using System.Threading.Channels;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using TaskBudgets.Governance.Telemetry;

namespace TaskBudgets.Governance.Storage;

/// <summary>
/// Group commit: settlements from many callers are written in one transaction, and each caller
/// awaits its batch's commit, so an acknowledged report is durable. Once-only by the settlement
/// row's primary key: a retried report finds its first row and changes nothing.
/// </summary>
public sealed partial class ReportWriter(
    IDbContextFactory<GovernanceDbContext> contexts,
    IOptions<ReportWriterOptions> options,
    TimeProvider time,
    GovernanceMetrics metrics,
    ILogger<ReportWriter> logger) : BackgroundService
{
    private readonly Channel<Pending> queue = Channel.CreateBounded<Pending>(new BoundedChannelOptions(options.Value.QueueCapacity)
    {
        SingleReader = true,
        FullMode = BoundedChannelFullMode.Wait,
    });

    private readonly int maxBatch = options.Value.MaxBatchSize;

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
            for (var i = 0; i < batch.Count; i++)
            {
                batch[i].Completion.TrySetResult(outcomes[i]);
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
                item.Completion.TrySetResult(outcomes[0]);
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
        await using var db = await contexts.CreateDbContextAsync();
        await using var transaction = await db.Database.BeginTransactionAsync();
        var ids = batch.Select(p => p.Command.Row.Id).Distinct().ToList();
        var rows = await db.Settlements.Where(s => ids.Contains(s.Id)).ToDictionaryAsync(s => s.Id, StringComparer.Ordinal);
        var nowMs = time.GetUtcNow().ToUnixTimeMilliseconds();
        var counters = new Dictionary<(string, long), (long Consumed, long Leased)>();
        var outcomes = new SettlementOutcome[batch.Count];

        for (var i = 0; i < batch.Count; i++)
        {
            var command = batch[i].Command;
            var debited = new bool[command.Debits.Count];
            if (rows.TryGetValue(command.Row.Id, out var row))
            {
                if (command.Kind == SettlementKind.Reported && row.Kind == (int)SettlementKind.Released)
                {
                    // The tokens were spent all the same: count a report that follows a release, flagged late.
                    CopyUsage(command.Row, row);
                    row.Late = true;
                    await DebitAsync(db, command, debited, counters, nowMs);
                    await UseTaskBudgetAsync(db, command);
                    outcomes[i] = new SettlementOutcome(row, Duplicate: false, debited);
                }
                else
                {
                    outcomes[i] = new SettlementOutcome(row, Duplicate: true, debited);
                }

                continue;
            }

            db.Settlements.Add(command.Row);
            rows[command.Row.Id] = command.Row;
            if (command.Kind == SettlementKind.Reported)
            {
                await DebitAsync(db, command, debited, counters, nowMs);
                await UseTaskBudgetAsync(db, command);
            }

            outcomes[i] = new SettlementOutcome(command.Row, Duplicate: false, debited);
        }

        foreach (var ((key, window), delta) in counters)
        {
            var updated = await db.QuotaCounters
                .Where(c => c.CounterKey == key && c.WindowStart == window)
                .ExecuteUpdateAsync(s => s
                    .SetProperty(c => c.Consumed, c => c.Consumed + delta.Consumed)
                    .SetProperty(c => c.Leased, c => c.Leased - delta.Leased));
            if (updated == 0)
            {
                db.QuotaCounters.Add(new QuotaCounter { CounterKey = key, WindowStart = window, Consumed = delta.Consumed });
            }
        }

        await db.SaveChangesAsync();
        await transaction.CommitAsync();
        return outcomes;
    }

    /// <summary>
    /// Debits each quota window; where the grant's lease is alive and holds enough, the lease too, so
    /// the usage takes the place of leased capacity instead of adding to it.
    /// </summary>
    private static async Task DebitAsync(
        GovernanceDbContext db,
        SettlementCommand command,
        bool[] debited,
        Dictionary<(string, long), (long Consumed, long Leased)> counters,
        long nowMs)
    {
        for (var d = 0; d < command.Debits.Count; d++)
        {
            var debit = command.Debits[d];
            var amount = debit.Amount;
            if (debit.LeaseId is { } leaseId && amount > 0)
            {
                var leases = db.CapacityLeases.Where(l =>
                    l.Id == leaseId && l.ExpiresAtMs > nowMs && l.Amount - l.DebitedByOwner - l.DebitedByOthers >= amount);
                var applied = debit.ByOwner
                    ? await leases.ExecuteUpdateAsync(s => s.SetProperty(l => l.DebitedByOwner, l => l.DebitedByOwner + amount))
                    : await leases.ExecuteUpdateAsync(s => s.SetProperty(l => l.DebitedByOthers, l => l.DebitedByOthers + amount));
                debited[d] = applied == 1;
            }

            var key = (debit.CounterKey, debit.WindowStart);
            var current = counters.GetValueOrDefault(key);
            counters[key] = (current.Consumed + amount, current.Leased + (debited[d] ? amount : 0));
        }
    }

    private static async Task UseTaskBudgetAsync(GovernanceDbContext db, SettlementCommand command)
    {
        if (command.TaskId.Length == 0)
        {
            return;
        }

        var org = command.Row.OrgId;
        var task = command.TaskId;
        var used = command.Row.OutputTokens;
        await db.TaskBudgets
            .Where(t => t.OrgId == org && t.TaskId == task)
            .ExecuteUpdateAsync(s => s.SetProperty(t => t.Used, t => t.Used + used));
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

    [LoggerMessage(Level = LogLevel.Error, Message = "A settlement could not be committed; its caller gets UNAVAILABLE.")]
    private static partial void LogCommitFailed(ILogger logger, Exception exception);
}
