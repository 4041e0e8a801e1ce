using Microsoft.Extensions.Options;
using TaskBudgets.Governance.Budgeting.Calibration;
using TaskBudgets.Governance.Policies;
using TaskBudgets.Governance.Quotas;
using TaskBudgets.Governance.Storage;

namespace TaskBudgets.Governance.Adaptive;

/// <summary>
/// Shares calibration between replicas, off the hot path, every Calibration:SyncInterval: writes
/// this replica's own statistics (its rows only, so no two replicas write the same row), reads the
/// others' rows that changed, merges everything (the sketches are mergeable) and publishes the
/// rebuilt budgets. Rows of replicas gone longer than Calibration:Retention are deleted. A
/// restarted replica has a new id; its previous life's rows still count, as another replica's.
/// </summary>
public sealed partial class CalibrationSync(
    CalibrationRows rows,
    CalibrationBook book,
    PolicyCatalog catalog,
    ReplicaIdentity replica,
    IOptions<CalibrationOptions> options,
    TimeProvider time,
    StorageOutage outage,
    ILogger<CalibrationSync> logger) : BackgroundService
{
    private readonly SemaphoreSlim syncing = new(1, 1);
    private readonly Dictionary<(string Replica, CalibrationKey Key), (long UpdatedAtMs, CalibrationStats Stats)> others = [];
    private readonly CalibrationSettings settings = options.Value.ToSettings();

    /// <summary>Writes this replica's statistics, merges everyone's and publishes the budgets.</summary>
    public async Task SyncAsync(CancellationToken cancellationToken)
    {
        await syncing.WaitAsync(cancellationToken);
        try
        {
            var now = time.GetUtcNow();
            var own = book.TakeOwn();
            try
            {
                await WriteOwnAsync(own, now.ToUnixTimeMilliseconds(), cancellationToken);
            }
            catch
            {
                foreach (var (key, _, changed) in own)
                {
                    if (changed)
                    {
                        book.MarkChanged(key);
                    }
                }

                throw;
            }

            await ReadOthersAsync(cancellationToken);

            // Every replica's row of a key; rows of an older change epoch are discounted as they merge.
            var rowsOf = new Dictionary<CalibrationKey, List<CalibrationStats>>();
            foreach (var (key, stats, _) in own)
            {
                rowsOf[key] = [stats];
            }

            foreach (var ((_, key), (_, stats)) in others)
            {
                if (rowsOf.TryGetValue(key, out var list))
                {
                    list.Add(stats);
                }
                else
                {
                    rowsOf[key] = [stats];
                }

                // Another replica detected a change: this one's own calls start its epoch too.
                book.Adopt(key, stats.ChangeEpoch, stats.ChangeAtMs);
            }

            var merged = new Dictionary<CalibrationKey, CalibrationStats>();
            foreach (var (key, list) in rowsOf)
            {
                merged[key] = CalibrationStats.Combine(list, settings.HalfLife)!;
            }

            book.Publish(CalibrationSnapshot.Build(catalog.Current.Version, catalog.Current.Tiers, merged, now, settings));
        }
        finally
        {
            syncing.Release();
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.SyncInterval, time);
        try
        {
            // At once, so a started replica grants from what the others learned.
            do
            {
                try
                {
                    await SyncAsync(stoppingToken);
                    outage.Succeeded();
                }
                catch (Exception e) when (!stoppingToken.IsCancellationRequested)
                {
                    Failed(e);
                }
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }

        // Shutting down: keep what this replica learned since the last sync.
        try
        {
            using var last = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await SyncAsync(last.Token);
        }
        catch (Exception e)
        {
            Failed(e);
        }
    }

    /// <summary>An outage is told once by StorageOutage; anything else is worth its stack trace.</summary>
    private void Failed(Exception e)
    {
        if (StorageOutage.IsOutage(e))
        {
            outage.Failed("syncing calibration", e);
        }
        else
        {
            LogSyncFailed(logger, e);
        }
    }

    /// <summary>Writes this replica's changed rows and deletes rows past Calibration:Retention.</summary>
    private Task WriteOwnAsync(List<(CalibrationKey Key, CalibrationStats Stats, bool Changed)> own, long nowMs, CancellationToken cancellationToken)
    {
        var changed = own.Where(o => o.Changed)
            .Select(o => new CalibrationRow { ReplicaId = replica.Id, Tier = o.Key.Tier, TaskType = o.Key.TaskType, OrgId = o.Key.OrgId, Stats = o.Stats.Serialize(), UpdatedAtMs = nowMs })
            .ToList();
        return rows.WriteOwnAsync(replica.Id, changed, nowMs, nowMs - (long)options.Value.Retention.TotalMilliseconds, cancellationToken);
    }

    private async Task ReadOthersAsync(CancellationToken cancellationToken)
    {
        // Which rows changed: a cheap read without the statistics, then only changed replicas' rows.
        var heads = await rows.ReadOthersHeadsAsync(replica.Id, cancellationToken);
        var seen = new HashSet<(string, CalibrationKey)>();
        var changedReplicas = new HashSet<string>(StringComparer.Ordinal);
        foreach (var h in heads)
        {
            var key = (h.ReplicaId, new CalibrationKey(h.Tier, h.TaskType, h.OrgId));
            seen.Add(key);
            if (!others.TryGetValue(key, out var known) || known.UpdatedAtMs != h.UpdatedAtMs)
            {
                changedReplicas.Add(h.ReplicaId);
            }
        }

        foreach (var gone in others.Keys.Where(k => !seen.Contains(k)).ToList())
        {
            others.Remove(gone);
        }

        if (changedReplicas.Count == 0)
        {
            return;
        }

        foreach (var row in await rows.ReadOfAsync(changedReplicas, cancellationToken))
        {
            var key = (row.ReplicaId, new CalibrationKey(row.Tier, row.TaskType, row.OrgId));
            if (others.TryGetValue(key, out var known) && known.UpdatedAtMs == row.UpdatedAtMs)
            {
                continue;
            }

            try
            {
                others[key] = (row.UpdatedAtMs, CalibrationStats.Deserialize(row.Stats));
            }
            catch (FormatException e)
            {
                // A row this version cannot read (a newer format mid-upgrade) is left out, not fatal.
                LogUnreadableRow(logger, row.ReplicaId, row.Tier, row.TaskType, e);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Calibration sync failed; grants keep the budgets in force.")]
    private static partial void LogSyncFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Calibration row of replica {Replica}, tier {Tier}, task type {TaskType} is unreadable; left out.")]
    private static partial void LogUnreadableRow(ILogger logger, string replica, string tier, string taskType, Exception exception);
}
