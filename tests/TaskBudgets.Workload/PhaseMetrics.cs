using TaskBudgets.Governance.Budgeting.Calibration;

namespace TaskBudgets.Workload;

/// <summary>
/// What a set of calls of one task type (or all) reserved, used and how often they were truncated
/// (first attempts); with retries, how many tasks completed and what all their attempts reserved.
/// </summary>
internal sealed record TypeMetrics(string TaskType, long Calls, long Truncations, long Reserved, long Used, long Completed = 0, long ReservedAll = 0)
{
    /// <summary>Reasoning tokens reserved over every attempt per task that completed.</summary>
    public double ReservedPerCompletedTask => Completed == 0 ? 0 : (double)ReservedAll / Completed;

    public double TruncationRate => Calls == 0 ? 0 : (double)Truncations / Calls;

    /// <summary>Reservation efficiency: used / reserved reasoning tokens.</summary>
    public double Efficiency => Reserved == 0 ? 0 : (double)Used / Reserved;

    public double ReservedPerCall => Calls == 0 ? 0 : (double)Reserved / Calls;
}

/// <summary>
/// The efficiency of the least efficient run of <see cref="PhaseMetrics.WindowCalls"/> calls of a
/// phase (in plan order), and the first and last of its calls (0-based indexes into the phase).
/// </summary>
internal readonly record struct WorstWindow(int FirstCall, int LastCall, double Efficiency, double TruncationRate);

/// <summary>The metrics of one phase over its measured calls: per task type and in total.</summary>
internal sealed record PhaseMetrics(string Phase, int FirstCall, int MeasuredCalls, IReadOnlyList<TypeMetrics> ByType, TypeMetrics Total)
{
    /// <summary>Calls per window when looking for the phase's worst stretch (while learning, say).</summary>
    public const int WindowCalls = 1_000;

    /// <summary>The least efficient of the phase's consecutive, non-overlapping windows, measured or not; null with fewer calls than a window.</summary>
    public WorstWindow? Worst { get; init; }

    /// <summary>
    /// The same over the calls granted from the calibration alone (<see cref="CallRecord.Calibrated"/>):
    /// what learning granted, bursts included. A task type's calls before it has min_samples get
    /// the rule's default, so windows of those are as efficient as the default is, whatever the
    /// service learns; null with fewer calibrated calls than a window.
    /// </summary>
    public WorstWindow? WorstCalibrated { get; init; }

    /// <summary>With call features: the measured calls per phase (<see cref="OfflineNeeds.FeaturePhases"/> order); empty without.</summary>
    public IReadOnlyList<TypeMetrics> ByPhase { get; init; } = [];

    /// <summary>With call features: the measured calls per input band (<see cref="CalibrationStats.InputBand"/>); empty without.</summary>
    public IReadOnlyList<TypeMetrics> ByInputBand { get; init; } = [];

    /// <summary>Measures the calls from <paramref name="first"/> on (0-based index into the phase's calls).</summary>
    public static PhaseMetrics Of(string phase, WorkloadFile workload, CallRecord[] records, int first)
    {
        ArgumentNullException.ThrowIfNull(workload);
        ArgumentNullException.ThrowIfNull(records);
        first = Math.Clamp(first, 0, records.Length);
        var measured = records.AsSpan(first);
        var byType = new List<TypeMetrics>();
        for (var t = 0; t < workload.TaskTypes.Count; t++)
        {
            var type = t;
            byType.Add(Sum(workload.TaskTypes[t].Name, measured, r => r.TaskType == type));
        }

        var featured = records.Skip(first).Any(r => r.Phase != TaskBudgets.V1.Phase.Unspecified);
        return new PhaseMetrics(phase, first, measured.Length, byType, Sum("total", measured, _ => true))
        {
            Worst = WorstOf(records, _ => true),
            WorstCalibrated = WorstOf(records, r => r.Calibrated),
            ByPhase = featured ? [.. OfflineNeeds.FeaturePhases.Select(p => Sum(OfflineNeeds.PhaseName(p), records.AsSpan(first), r => r.Phase == p))] : [],
            ByInputBand = featured
                ? [.. Enumerable.Range(0, CalibrationStats.InputBands).Select(b => Sum(OfflineNeeds.InputBandName(b), records.AsSpan(first), r => CalibrationStats.InputBand(r.InputTokens) == b))]
                : [],
        };
    }

    /// <summary>The least efficient window of <see cref="WindowCalls"/> consecutive calls among those that <paramref name="counts"/>.</summary>
    private static WorstWindow? WorstOf(CallRecord[] records, Func<CallRecord, bool> counts)
    {
        var indexes = Enumerable.Range(0, records.Length).Where(i => counts(records[i])).ToArray();
        WorstWindow? worst = null;
        for (var start = 0; start + WindowCalls <= indexes.Length; start += WindowCalls)
        {
            var window = indexes.AsSpan(start, WindowCalls);
            var calls = new CallRecord[WindowCalls];
            for (var i = 0; i < WindowCalls; i++)
            {
                calls[i] = records[window[i]];
            }

            var sum = Sum("window", calls, _ => true);
            if (worst is null || sum.Efficiency < worst.Value.Efficiency)
            {
                worst = new WorstWindow(window[0], window[^1], sum.Efficiency, sum.TruncationRate);
            }
        }

        return worst;
    }

    private static TypeMetrics Sum(string name, ReadOnlySpan<CallRecord> records, Func<CallRecord, bool> counts)
    {
        long calls = 0, truncations = 0, reserved = 0, used = 0, completed = 0, reservedAll = 0;
        foreach (var r in records)
        {
            if (!counts(r))
            {
                continue;
            }

            calls++;
            truncations += r.Truncated ? 1 : 0;
            reserved += r.Granted;
            used += r.Used;
            completed += r.Completed ? 1 : 0;
            reservedAll += r.ReservedAll;
        }

        return new TypeMetrics(name, calls, truncations, reserved, used, completed, reservedAll);
    }
}
