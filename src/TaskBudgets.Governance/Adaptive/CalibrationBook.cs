using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using TaskBudgets.Governance.Budgeting.Calibration;
using TaskBudgets.Governance.Telemetry;

namespace TaskBudgets.Governance.Adaptive;

/// <summary>
/// This replica's calibration: the statistics of the calls it settled (its own share, which it
/// writes to the database) and the snapshot in force (everyone's, merged by
/// <see cref="CalibrationSync"/>), which grants read once per call. Each settled call is also
/// tested against the snapshot for a change of need (<see cref="ChangeDetector"/>).
/// </summary>
public sealed class CalibrationBook(IOptions<CalibrationOptions> options, TimeProvider time, GovernanceMetrics metrics)
{
    private readonly TimeSpan halfLife = options.Value.HalfLife;
    private readonly bool perOrg = options.Value.PerOrg;
    private readonly bool detectChanges = options.Value.DetectChanges;
    private readonly double changeThreshold = options.Value.ChangeThreshold;
    private readonly ConcurrentDictionary<CalibrationKey, Local> local = new();
    private CalibrationSnapshot current = CalibrationSnapshot.Empty;

    public CalibrationSnapshot Current => Volatile.Read(ref current);

    public void Publish(CalibrationSnapshot snapshot) => Volatile.Write(ref current, snapshot);

    /// <summary>Counts a settled call for its tier's task type, and for its org's own calibration.</summary>
    /// <param name="ruleTaskType">The task type of the rule that governed the call (bounded by the policy).</param>
    public void Record(string tier, string ruleTaskType, string orgId, in CalibrationSample sample)
    {
        var nowMs = time.GetUtcNow().ToUnixTimeMilliseconds();
        Add(new CalibrationKey(tier, ruleTaskType, string.Empty), sample, nowMs);
        if (perOrg && orgId.Length > 0)
        {
            Add(new CalibrationKey(tier, ruleTaskType, orgId), sample, nowMs);
        }
    }

    /// <summary>Copies of this replica's own statistics, and which changed since the last call (clearing that).</summary>
    public List<(CalibrationKey Key, CalibrationStats Stats, bool Changed)> TakeOwn()
    {
        var copies = new List<(CalibrationKey, CalibrationStats, bool)>();
        foreach (var (key, entry) in local)
        {
            lock (entry)
            {
                copies.Add((key, entry.Stats.Clone(halfLife), entry.Changed));
                entry.Changed = false;
            }
        }

        return copies;
    }

    /// <summary>
    /// Another replica detected a change of <paramref name="key"/> (its row has a later epoch):
    /// this replica's own statistics start that epoch too, dropping what came before it.
    /// </summary>
    public void Adopt(CalibrationKey key, long epoch, long atMs)
    {
        if (local.TryGetValue(key, out var entry))
        {
            lock (entry)
            {
                if (entry.Stats.IsBefore(epoch, atMs))
                {
                    entry.Stats.StartEpoch(epoch, atMs);
                    entry.Detector.Reset();
                    entry.Changed = true;
                }
            }
        }
    }

    /// <summary>A write of <paramref name="key"/> failed: write it again next time.</summary>
    public void MarkChanged(CalibrationKey key)
    {
        if (local.TryGetValue(key, out var entry))
        {
            lock (entry)
            {
                entry.Changed = true;
            }
        }
    }

    private void Add(CalibrationKey key, in CalibrationSample sample, long nowMs)
    {
        var entry = local.GetOrAdd(key, static (_, state) => new Local(new CalibrationStats(state.nowMs), new ChangeDetector(state.changeThreshold)), (nowMs, changeThreshold));
        var reference = detectChanges ? Current.Reference(key) : default;
        var detected = false;
        lock (entry)
        {
            // Until the snapshot has this replica's latest change, it describes the calls before it.
            if (reference.Epoch >= entry.Stats.ChangeEpoch && entry.Detector.Observe(sample, reference))
            {
                entry.Stats.StartEpoch(Math.Max(reference.Epoch, entry.Stats.ChangeEpoch) + 1, nowMs);
                detected = true;
            }

            entry.Stats.Add(sample, nowMs, halfLife);
            entry.Changed = true;
        }

        if (detected && key.OrgId.Length == 0)
        {
            metrics.CalibrationChanged(key.Tier, key.TaskType);
        }
    }

    private sealed class Local(CalibrationStats stats, ChangeDetector detector)
    {
        public CalibrationStats Stats { get; } = stats;

        public ChangeDetector Detector { get; } = detector;

        public bool Changed { get; set; }
    }
}
