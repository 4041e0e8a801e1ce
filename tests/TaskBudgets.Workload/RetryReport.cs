using System.Globalization;
using TaskBudgets.V1;

namespace TaskBudgets.Workload;

/// <summary>
/// The printed comparison with retries: per task type and in total, the first-attempt truncation
/// measured against what GetCalibration projects for the tier, and the reserved tokens per
/// completed task against the best ladder with full knowledge of the needs.
/// </summary>
internal static class RetryReport
{
    private static readonly string[] Headers = ["TASK TYPE", "TRUNC 1ST", "PROJ. TRUNC", "TASKS DONE", "RESERVED/DONE", "PROJ. RESERVED/DONE", "OPTIMAL", "RATIO", "LADDER (SERVICE)", "LADDER (OPTIMAL)"];

    /// <param name="calibration">GetCalibration's tier-wide rows of the adaptive tier, read at the end of the run.</param>
    public static void Write(TextWriter output, WorkloadFile workload, int maxAttempts, PhaseMetrics adaptive, OfflineNeeds needs, IReadOnlyList<Calibration> calibration)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(workload);
        ArgumentNullException.ThrowIfNull(adaptive);
        ArgumentNullException.ThrowIfNull(needs);
        ArgumentNullException.ThrowIfNull(calibration);
        var optimal = needs.OptimalLadders(workload.TargetTruncationRate, WorkloadPolicy.AdaptiveMin, WorkloadPolicy.AdaptiveMax, maxAttempts);
        output.WriteLine();
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"with retries (up to {maxAttempts} attempts per task; measured tasks {adaptive.FirstCall + 1:N0}..{adaptive.FirstCall + adaptive.MeasuredCalls:N0}): first-attempt truncation against GetCalibration's projection for the tier, reserved reasoning tokens per completed task against the optimal ladder (full knowledge)"));
        output.WriteLine();
        var rows = new List<string[]> { Headers };
        double projectedTotal = 0, samples = 0, projectedReserved = 0;
        for (var t = 0; t <= workload.TaskTypes.Count; t++)
        {
            var total = t == workload.TaskTypes.Count;
            var m = total ? adaptive.Total : adaptive.ByType[t];
            var o = optimal[t];
            var row = total ? null : calibration.FirstOrDefault(c => c.TaskType == workload.TaskTypes[t].Name);
            if (row is not null)
            {
                projectedTotal += row.Samples * row.ProjectedTruncationRate;
                projectedReserved += row.Samples * row.ProjectedReservedTokensPerTask;
                samples += row.Samples;
            }

            var projected = total ? (samples > 0 ? projectedTotal / samples : double.NaN) : row?.ProjectedTruncationRate ?? double.NaN;
            var projectedPerTask = total ? (samples > 0 ? projectedReserved / samples : double.NaN) : row?.ProjectedReservedTokensPerTask ?? double.NaN;
            rows.Add(
            [
                m.TaskType, Pct(m.TruncationRate), double.IsNaN(projected) ? "-" : Pct(projected), N(m.Completed) + "/" + N(m.Calls),
                N((long)Math.Round(m.ReservedPerCompletedTask)), double.IsNaN(projectedPerTask) ? "-" : N((long)Math.Round(projectedPerTask)),
                N((long)Math.Round(o.ReservedPerCompletedTask)),
                o.ReservedPerCompletedTask == 0 ? "-" : (m.ReservedPerCompletedTask / o.ReservedPerCompletedTask).ToString("0.000", CultureInfo.InvariantCulture) + "x",
                row is null ? "-" : string.Join(" > ", new[] { row.CurrentBudget }.Concat(row.EscalationBudgets).Select(N)),
                o.Budgets.Length == 0 ? "-" : string.Join(" > ", o.Budgets.Select(N)),
            ]);
        }

        var widths = Enumerable.Range(0, rows[0].Length).Select(i => rows.Max(r => r[i].Length)).ToArray();
        foreach (var r in rows)
        {
            output.WriteLine(string.Join("  ", r.Select((cell, i) => i == 0 ? cell.PadRight(widths[i]) : cell.PadLeft(widths[i]))));
        }

        var all = adaptive.Total;
        var ratio = optimal[^1].ReservedPerCompletedTask == 0 ? 0 : all.ReservedPerCompletedTask / optimal[^1].ReservedPerCompletedTask;
        var gap = samples > 0 ? Math.Abs((projectedTotal / samples) - all.TruncationRate) : double.NaN;
        output.WriteLine();
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"optimal ladder (full knowledge): {Pct(optimal[^1].TruncationRate)} first-attempt truncation, {optimal[^1].ReservedPerCompletedTask:N0} reserved per completed task"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"reserved per completed task: {ratio:0.000}x the optimal ladder's (target <= 1.05x); projected first-attempt truncation {gap * 100:0.00} points from the measured (target <= 1 point)"));
    }

    private static string N(long value) => value.ToString("N0", CultureInfo.InvariantCulture);

    private static string Pct(double fraction) => (fraction * 100).ToString("0.00", CultureInfo.InvariantCulture) + "%";
}
