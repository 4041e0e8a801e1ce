using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using TaskBudgets.Governance.Storage;

namespace TaskBudgets.Governance.Grants;

/// <summary>How agentic loops' task budgets are tracked. Bound from the "Tasks" section.</summary>
public sealed class TaskBudgetOptions
{
    public const string Section = "Tasks";

    /// <summary>
    /// A replica re-reads a loop's use from the database when its copy is older than this, so
    /// reports settled on other replicas count. Default 1 s.
    /// </summary>
    [System.ComponentModel.DataAnnotations.Range(typeof(TimeSpan), "00:00:00", "00:10:00")]
    public TimeSpan RefreshAfter { get; set; } = TimeSpan.FromSeconds(1);
}

/// <summary>
/// Agentic loops (calls sharing a task_id): the first call fixes the loop's task budget from its
/// rule, and each later call, on whichever replica, gets what the loop's reports left of it.
/// </summary>
public sealed class TaskBudgetLedger(TaskBudgetRows rows, IOptions<TaskBudgetOptions> options, TimeProvider time)
{
    private readonly ConcurrentDictionary<(string OrgId, string TaskId), Entry> tasks = new();
    private readonly TimeSpan refreshAfter = options.Value.RefreshAfter;
    private long lastSweepMs;

    /// <summary>The loop's total and what it has left, starting it at <paramref name="total"/> if it is new.</summary>
    public async ValueTask<(long Total, long Remaining)> RemainingAsync(string orgId, string taskId, long total, CancellationToken cancellationToken)
    {
        var key = (orgId, taskId);
        var now = time.GetUtcNow();
        if (tasks.TryGetValue(key, out var entry) && now - entry.ReadAt < refreshAfter)
        {
            return (entry.Total, Math.Max(0, entry.Total - entry.Used));
        }

        SweepStale(now);
        var (stored, used) = await rows.ReadOrStartAsync(orgId, taskId, total, now.ToUnixTimeMilliseconds(), cancellationToken);
        tasks[key] = new Entry(stored, used, now);
        return (stored, Math.Max(0, stored - used));
    }

    /// <summary>What GetBudget would find for the loop, without starting it when it is new.</summary>
    public async ValueTask<(long Total, long Remaining)> PeekAsync(string orgId, string taskId, long total, CancellationToken cancellationToken)
    {
        if (tasks.TryGetValue((orgId, taskId), out var entry) && time.GetUtcNow() - entry.ReadAt < refreshAfter)
        {
            return (entry.Total, Math.Max(0, entry.Total - entry.Used));
        }

        return await rows.ReadAsync(orgId, taskId, cancellationToken) is { } row ? (row.Total, Math.Max(0, row.Total - row.Used)) : (total, total);
    }

    /// <summary>A report settled here: count it at once, before the next refresh.</summary>
    public void Used(string orgId, string taskId, long tokens)
    {
        if (tasks.TryGetValue((orgId, taskId), out var entry))
        {
            tasks[(orgId, taskId)] = entry with { Used = entry.Used + tokens };
        }
    }

    /// <summary>How many loops this replica holds a copy of.</summary>
    public int CachedCount => tasks.Count;

    /// <summary>
    /// Drops copies too old to answer from (they would be re-read anyway), at most once per
    /// refresh interval, so finished loops do not pile up in memory.
    /// </summary>
    private void SweepStale(DateTimeOffset now)
    {
        var nowMs = now.ToUnixTimeMilliseconds();
        var last = Interlocked.Read(ref lastSweepMs);
        if (nowMs - last < refreshAfter.TotalMilliseconds || Interlocked.CompareExchange(ref lastSweepMs, nowMs, last) != last)
        {
            return;
        }

        foreach (var (key, entry) in tasks)
        {
            if (now - entry.ReadAt >= refreshAfter)
            {
                tasks.TryRemove(new KeyValuePair<(string, string), Entry>(key, entry));
            }
        }
    }

    private sealed record Entry(long Total, long Used, DateTimeOffset ReadAt);
}
