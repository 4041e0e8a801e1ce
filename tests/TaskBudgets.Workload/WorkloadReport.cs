using System.Globalization;
using TaskBudgets.V1;

namespace TaskBudgets.Workload;

/// <summary>The printed comparison: per task type and in total, fixed against adaptive, and the ratio of efficiencies.</summary>
internal static class WorkloadReport
{
    /// <summary>F: the fixed phase; A: the adaptive phase (its measured calls).</summary>
    private static readonly string[] Headers = ["TASK TYPE", "CALLS F", "TRUNC F", "EFF F", "RESERVED/CALL F", "CALLS A", "TRUNC A", "EFF A", "RESERVED/CALL A", "EFF A/F"];

    /// <summary>A: the adaptive phase's measured calls; T: the per-type optimum; O: the per-type-phase-and-input-band optimum.</summary>
    private static readonly string[] FeatureHeaders = ["CALLS OF", "SHARE", "CALLS A", "TRUNC A", "EFF A", "TRUNC T", "EFF T", "TRUNC O", "EFF O"];

    /// <param name="needs">When given, the offline reference: each task type at its own budget for the target, in hindsight.</param>
    public static void Write(TextWriter output, WorkloadFile workload, long fixedBudget, PhaseMetrics fixedPhase, PhaseMetrics? adaptivePhase, OfflineNeeds? needs = null)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(workload);
        ArgumentNullException.ThrowIfNull(fixedPhase);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"fixed: one budget of {fixedBudget:N0} reasoning tokens for the whole tier (the smallest with <= {Pct(workload.TargetTruncationRate)} truncation over the workload's needs); measured over all {fixedPhase.MeasuredCalls:N0} calls"));
        if (adaptivePhase is not null)
        {
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"adaptive: adaptive rules learning from usage reports; measured over calls {adaptivePhase.FirstCall + 1:N0}..{adaptivePhase.FirstCall + adaptivePhase.MeasuredCalls:N0} (the last {adaptivePhase.MeasuredCalls:N0})"));
        }

        output.WriteLine();
        var rows = new List<string[]> { Headers };
        for (var t = 0; t <= workload.TaskTypes.Count; t++)
        {
            var f = t < workload.TaskTypes.Count ? fixedPhase.ByType[t] : fixedPhase.Total;
            var a = adaptivePhase is null ? null : t < workload.TaskTypes.Count ? adaptivePhase.ByType[t] : adaptivePhase.Total;
            rows.Add(
            [
                f.TaskType, N(f.Calls), Pct(f.TruncationRate), Pct(f.Efficiency), N((long)Math.Round(f.ReservedPerCall)),
                a is null ? "-" : N(a.Calls), a is null ? "-" : Pct(a.TruncationRate), a is null ? "-" : Pct(a.Efficiency),
                a is null ? "-" : N((long)Math.Round(a.ReservedPerCall)),
                a is null || f.Efficiency == 0 ? "-" : (a.Efficiency / f.Efficiency).ToString("0.00", CultureInfo.InvariantCulture) + "x",
            ]);
        }

        Table(output, rows, string.Empty);

        if (needs is not null)
        {
            output.WriteLine();
            output.WriteLine("reasoning needs (offline sample): share, median, p90, p98, p99.9; and the smallest budget for the target per task type");
            for (var t = 0; t < workload.TaskTypes.Count; t++)
            {
                output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {workload.TaskTypes[t].Name,-16} {Pct(needs.Share(t)),7} {needs.Quantile(t, 0.5),9:N0} {needs.Quantile(t, 0.9),9:N0} {needs.Quantile(t, 0.98),9:N0} {needs.Quantile(t, 0.999),9:N0}   budget {needs.TypeBudget(t, workload.TargetTruncationRate),9:N0}"));
            }

            var oracle = needs.OracleEfficiency(workload.TargetTruncationRate);
            var offlineFixed = needs.FixedEfficiency(fixedBudget);
            output.WriteLine();
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"offline reference (sampled needs): fixed budget efficiency {Pct(offlineFixed)}; each task type at its own budget for {Pct(workload.TargetTruncationRate)} (hindsight oracle) {Pct(oracle)}, {oracle / offlineFixed:0.00}x fixed"));
            var optimal = needs.OptimalAllocation(workload.TargetTruncationRate);
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"optimal per-type allocation (full knowledge, the tier's target shared across types): efficiency {Pct(optimal.Efficiency)} at {Pct(optimal.TruncationRate)} truncation; budgets {string.Join(", ", optimal.Budgets.Select(b => b.ToString("N0", CultureInfo.InvariantCulture)))}"));
            if (adaptivePhase is not null)
            {
                output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"adaptive against it: {adaptivePhase.Total.Efficiency / optimal.Efficiency:0.000}x its efficiency (target >= 0.98x) at {adaptivePhase.Total.TruncationRate / workload.TargetTruncationRate:0.00}x the target truncation (target <= 1.10x)"));
            }

            if (needs.OptimalAllocationByHint(workload.TargetTruncationRate) is { } byHint)
            {
                output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"optimal per-type-and-hint allocation (full knowledge, one budget per task type and hint band): efficiency {Pct(byHint.Efficiency)} at {Pct(byHint.TruncationRate)} truncation"));
                if (adaptivePhase is not null)
                {
                    output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"adaptive against it: {adaptivePhase.Total.Efficiency / byHint.Efficiency:0.000}x its efficiency (target >= 0.90x) at {adaptivePhase.Total.TruncationRate / workload.TargetTruncationRate:0.00}x the target truncation (target <= 1.10x)"));
                }
            }

            WriteFeatures(output, workload, needs, optimal.Budgets, adaptivePhase);
        }

        if (adaptivePhase is not null)
        {
            var ratio = fixedPhase.Total.Efficiency == 0 ? 0 : adaptivePhase.Total.Efficiency / fixedPhase.Total.Efficiency;
            var gap = Math.Abs(adaptivePhase.Total.TruncationRate - fixedPhase.Total.TruncationRate);
            output.WriteLine();
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"efficiency ratio (adaptive / fixed, total): {ratio:0.00}x; truncation rates {Pct(adaptivePhase.Total.TruncationRate)} vs {Pct(fixedPhase.Total.TruncationRate)} ({gap * 100:0.00} points apart)"));
            if (adaptivePhase.Worst is { } worst)
            {
                var share = adaptivePhase.Total.Efficiency == 0 ? 0 : worst.Efficiency / adaptivePhase.Total.Efficiency;
                output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"worst {PhaseMetrics.WindowCalls:N0}-call window of the adaptive phase (learning included): calls {worst.FirstCall + 1:N0}..{worst.LastCall + 1:N0}, efficiency {Pct(worst.Efficiency)} at {Pct(worst.TruncationRate)} truncation, {share:0.00}x the measured efficiency"));
            }

            if (adaptivePhase.WorstCalibrated is { } learning)
            {
                var share = adaptivePhase.Total.Efficiency == 0 ? 0 : learning.Efficiency / adaptivePhase.Total.Efficiency;
                output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"worst window of {PhaseMetrics.WindowCalls:N0} calibrated grants (learning included; the calls a task type sends before min_samples get the rule's default and are left out): calls {learning.FirstCall + 1:N0}..{learning.LastCall + 1:N0}, efficiency {Pct(learning.Efficiency)} at {Pct(learning.TruncationRate)} truncation, {share:0.00}x the measured efficiency (target >= 0.50x)"));
            }

            output.WriteLine(ratio >= 2 && gap <= 0.005
                ? "target met: at least 2x the fixed budget's efficiency at the same truncation rate (within 0.5 points)"
                : string.Create(CultureInfo.InvariantCulture, $"target NOT met: needs >= 2.00x at <= 0.50 points apart; got {ratio:0.00}x at {gap * 100:0.00} points"));
        }
    }

    /// <summary>
    /// With call features: the optimum with one budget per task type, phase and input band, the
    /// adaptive phase against it and against the per-type optimum (what a policy that ignores the
    /// features could reach at best), and both per phase and per input band.
    /// </summary>
    private static void WriteFeatures(TextWriter output, WorkloadFile workload, OfflineNeeds needs, long[] perType, PhaseMetrics? adaptivePhase)
    {
        var target = workload.TargetTruncationRate;
        if (needs.OptimalAllocationByFeatures(target) is not { } byFeatures)
        {
            return;
        }

        var plain = needs.OptimalAllocation(target);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"optimal per-type-phase-and-input-band allocation (full knowledge, one budget per task type, phase and input band): efficiency {Pct(byFeatures.Efficiency)} at {Pct(byFeatures.TruncationRate)} truncation; {byFeatures.Efficiency / plain.Efficiency:0.000}x the per-type optimum on the same calls (what the phase and input size are worth)"));
        if (adaptivePhase is not null)
        {
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"adaptive against it: {adaptivePhase.Total.Efficiency / byFeatures.Efficiency:0.000}x its efficiency (target >= 0.90x) at {adaptivePhase.Total.TruncationRate / target:0.00}x the target truncation (target <= 1.10x)"));
        }

        long PerType(int type, Phase phase, int band) => perType[type];
        long PerFeatures(int type, Phase phase, int band) => byFeatures.Budgets[OfflineNeeds.FeatureGroup(type, phase, band)];
        var typeRows = needs.ByPhase(PerType).Concat(needs.ByInputBand(PerType)).ToArray();
        var featureRows = needs.ByPhase(PerFeatures).Concat(needs.ByInputBand(PerFeatures)).ToArray();
        var measured = adaptivePhase is null ? [] : adaptivePhase.ByPhase.Concat(adaptivePhase.ByInputBand).ToArray();
        output.WriteLine();
        output.WriteLine("per phase and input band: the adaptive phase's measured calls (A), the per-type optimum (T) and the per-type-phase-and-input-band optimum (O) on the sampled calls");
        var all = featureRows.Take(OfflineNeeds.FeaturePhases.Length).Sum(g => g.Calls);
        var rows = new List<string[]> { FeatureHeaders };
        for (var i = 0; i < featureRows.Length; i++)
        {
            var a = i < measured.Length ? measured[i] : null;
            var share = all == 0 ? 0 : (double)featureRows[i].Calls / all;
            rows.Add(
            [
                featureRows[i].Name, Pct(share), a is null ? "-" : N(a.Calls), a is null ? "-" : Pct(a.TruncationRate), a is null ? "-" : Pct(a.Efficiency),
                Pct(typeRows[i].TruncationRate), Pct(typeRows[i].Efficiency), Pct(featureRows[i].TruncationRate), Pct(featureRows[i].Efficiency),
            ]);
        }

        Table(output, rows, "  ");
    }

    private static void Table(TextWriter output, List<string[]> rows, string indent)
    {
        var widths = Enumerable.Range(0, rows[0].Length).Select(i => rows.Max(r => r[i].Length)).ToArray();
        foreach (var row in rows)
        {
            output.WriteLine(indent + string.Join("  ", row.Select((cell, i) => i == 0 ? cell.PadRight(widths[i]) : cell.PadLeft(widths[i]))));
        }
    }

    private static string N(long value) => value.ToString("N0", CultureInfo.InvariantCulture);

    private static string Pct(double fraction) => (fraction * 100).ToString("0.00", CultureInfo.InvariantCulture) + "%";
}
