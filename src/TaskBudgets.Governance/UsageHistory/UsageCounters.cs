using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;
using TaskBudgets.Governance.Storage;

namespace TaskBudgets.Governance.UsageHistory;

/// <summary>Who a grant or denial counts for, and in which hour.</summary>
public readonly record struct UsageKey(string OrgId, string ProjectId, string PrincipalId, string Tier, string TaskType, long HourStart);

/// <summary>
/// Counts grants and denials per hour and caller dimensions, off the hot path: in memory first,
/// then added to the usage_counters table in the background (atomic increments, so every replica
/// adds to the same rows) every Usage:FlushInterval and at shutdown.
/// </summary>
public sealed partial class UsageCounters(
    UsageCounterRows rows,
    IOptions<UsageOptions> options,
    TimeProvider time,
    StorageOutage outage,
    ILogger<UsageCounters> logger) : BackgroundService
{
    private readonly SemaphoreSlim flushing = new(1, 1);
    private readonly ConcurrentDictionary<UsageKey, Totals> pending = new();

    /// <summary>Counts a new grant (not a replay) with what it allows.</summary>
    public void Granted(string orgId, string projectId, string principalId, string tier, string taskType, bool reduced, long reasoningTokens, long outputTokens, long inputTokens, long costMicros)
    {
        var totals = pending.GetOrAdd(Key(orgId, projectId, principalId, tier, taskType), _ => new Totals());
        Interlocked.Increment(ref totals.Grants);
        if (reduced)
        {
            Interlocked.Increment(ref totals.Reduced);
        }

        Interlocked.Add(ref totals.ReasoningTokens, reasoningTokens);
        Interlocked.Add(ref totals.OutputTokens, outputTokens);
        Interlocked.Add(ref totals.InputTokens, inputTokens);
        Interlocked.Add(ref totals.CostMicros, costMicros);
    }

    /// <summary>Counts a quota denial.</summary>
    public void Denied(string orgId, string projectId, string principalId, string tier, string taskType)
    {
        var totals = pending.GetOrAdd(Key(orgId, projectId, principalId, tier, taskType), _ => new Totals());
        Interlocked.Increment(ref totals.Denials);
    }

    /// <summary>Writes the counts taken so far; a failed write keeps them for the next flush.</summary>
    public async Task FlushAsync(CancellationToken cancellationToken)
    {
        await flushing.WaitAsync(cancellationToken);
        try
        {
            // Take each count out atomically: what is added meanwhile waits for the next flush.
            var batch = new Dictionary<UsageKey, Totals>();
            foreach (var (key, totals) in pending)
            {
                var taken = totals.Take();
                if (!taken.IsZero)
                {
                    batch[key] = taken;
                }
            }

            // Hours long past take no more counts.
            var stale = time.GetUtcNow().ToUnixTimeSeconds() - (3 * 3600);
            foreach (var key in pending.Keys.Where(k => k.HourStart < stale))
            {
                pending.TryRemove(key, out _);
            }

            if (batch.Count == 0)
            {
                return;
            }

            try
            {
                await WriteAsync(batch, cancellationToken);
            }
            catch
            {
                foreach (var (key, totals) in batch)
                {
                    pending.GetOrAdd(key, _ => new Totals()).Add(totals);
                }

                throw;
            }
        }
        finally
        {
            flushing.Release();
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.FlushInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    await FlushAsync(stoppingToken);
                }
                catch (Exception e) when (!stoppingToken.IsCancellationRequested)
                {
                    Failed(e);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }

        try
        {
            await FlushAsync(CancellationToken.None);
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
            outage.Failed("writing usage counts", e);
        }
        else
        {
            LogFlushFailed(logger, e);
        }
    }

    private UsageKey Key(string orgId, string projectId, string principalId, string tier, string taskType)
    {
        var now = time.GetUtcNow().ToUnixTimeSeconds();
        return new UsageKey(orgId, projectId, principalId, tier, taskType, now - (now % 3600));
    }

    private Task WriteAsync(Dictionary<UsageKey, Totals> batch, CancellationToken cancellationToken) =>
        rows.AddAsync([.. batch.Select(b => Row(b.Key, b.Value))], cancellationToken);

    private static UsageCounterRow Row(UsageKey key, Totals t) => new()
    {
        Id = RowId(key),
        OrgId = key.OrgId,
        ProjectId = key.ProjectId,
        PrincipalId = key.PrincipalId,
        Tier = key.Tier,
        TaskType = key.TaskType,
        HourStart = key.HourStart,
        Grants = t.Grants,
        Reduced = t.Reduced,
        Denials = t.Denials,
        GrantedReasoningTokens = t.ReasoningTokens,
        GrantedOutputTokens = t.OutputTokens,
        GrantedInputTokens = t.InputTokens,
        GrantedCostMicros = t.CostMicros,
    };

    private static string RowId(UsageKey key) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(string.Join('\0', key.OrgId, key.ProjectId, key.PrincipalId, key.Tier, key.TaskType, key.HourStart))));

    [LoggerMessage(Level = LogLevel.Warning, Message = "Writing grant and denial counts failed; they are kept for the next flush.")]
    private static partial void LogFlushFailed(ILogger logger, Exception exception);

    private sealed class Totals
    {
#pragma warning disable SA1401, CA1051 // Interlocked needs fields.
        public long Grants;
        public long Reduced;
        public long Denials;
        public long ReasoningTokens;
        public long OutputTokens;
        public long InputTokens;
        public long CostMicros;
#pragma warning restore SA1401, CA1051

        public bool IsZero => Grants == 0 && Reduced == 0 && Denials == 0 && ReasoningTokens == 0 && OutputTokens == 0 && InputTokens == 0 && CostMicros == 0;

        public Totals Take() => new()
        {
            Grants = Interlocked.Exchange(ref Grants, 0),
            Reduced = Interlocked.Exchange(ref Reduced, 0),
            Denials = Interlocked.Exchange(ref Denials, 0),
            ReasoningTokens = Interlocked.Exchange(ref ReasoningTokens, 0),
            OutputTokens = Interlocked.Exchange(ref OutputTokens, 0),
            InputTokens = Interlocked.Exchange(ref InputTokens, 0),
            CostMicros = Interlocked.Exchange(ref CostMicros, 0),
        };

        public void Add(Totals other)
        {
            Interlocked.Add(ref Grants, other.Grants);
            Interlocked.Add(ref Reduced, other.Reduced);
            Interlocked.Add(ref Denials, other.Denials);
            Interlocked.Add(ref ReasoningTokens, other.ReasoningTokens);
            Interlocked.Add(ref OutputTokens, other.OutputTokens);
            Interlocked.Add(ref InputTokens, other.InputTokens);
            Interlocked.Add(ref CostMicros, other.CostMicros);
        }
    }
}
