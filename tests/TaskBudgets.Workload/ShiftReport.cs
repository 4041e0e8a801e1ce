using System.Globalization;

namespace TaskBudgets.Workload;

/// <summary>One window of the shifted type's calls after the change.</summary>
internal readonly record struct ShiftWindow(int FirstCall, int Calls, double TruncationRate, double ReservedPerCall);

/// <summary>
/// How the adaptive rules followed a <see cref="NeedShift"/>: the shifted type's calls after the
/// change in windows of <see cref="WindowCalls"/>, against the optimal per-type allocation worked
/// out on the shifted needs. A need that grew is followed once the type's truncation stays within
/// <see cref="Tolerance"/>x that optimum's; one that fell, once its reserved tokens per call do
/// (reserving far too much is that side's failure; its truncation only falls).
/// </summary>
internal sealed record ShiftReport(
    NeedShift Shift,
    int CallsAfter,
    double OptimalTruncationBefore,
    long OptimalBudgetBefore,
    double OptimalTruncation,
    long OptimalBudget,
    IReadOnlyList<ShiftWindow> Windows,
    int? CallsUntilFollowed)
{
    /// <summary>The first of its calls after the shift whose grant said REASON_CODE_RECALIBRATING (0-based); null for none.</summary>
    public int? FirstRecalibrating { get; init; }

    public const int WindowCalls = 500;

    public const double Tolerance = 1.5;

    public static ShiftReport Of(WorkloadFile workload, NeedShift shift, CallRecord[] calls, OfflineNeeds before, OfflineNeeds after)
    {
        ArgumentNullException.ThrowIfNull(workload);
        ArgumentNullException.ThrowIfNull(shift);
        ArgumentNullException.ThrowIfNull(calls);
        ArgumentNullException.ThrowIfNull(before);
        ArgumentNullException.ThrowIfNull(after);
        var type = shift.TypeIndex(workload);
        var target = workload.TargetTruncationRate;
        var budgetBefore = before.OptimalAllocation(target).Budgets[type];
        var budgetAfter = after.OptimalAllocation(target).Budgets[type];
        var optimalTruncation = after.TruncationRate(type, budgetAfter);

        var mine = calls.Skip(shift.FromCall).Where(c => c.TaskType == type).ToArray();
        var windows = new List<ShiftWindow>();
        for (var start = 0; start + WindowCalls <= mine.Length; start += WindowCalls)
        {
            var window = mine.AsSpan(start, WindowCalls);
            long truncated = 0, reserved = 0;
            foreach (var c in window)
            {
                truncated += c.Truncated ? 1 : 0;
                reserved += c.Granted;
            }

            windows.Add(new ShiftWindow(start, WindowCalls, (double)truncated / WindowCalls, (double)reserved / WindowCalls));
        }

        // The first window from which every later one is within the tolerance.
        int? followed = null;
        for (var w = windows.Count - 1; w >= 0; w--)
        {
            var ok = shift.Factor > 1
                ? windows[w].TruncationRate <= Tolerance * optimalTruncation
                : windows[w].ReservedPerCall <= Tolerance * budgetAfter;
            if (!ok)
            {
                break;
            }

            followed = windows[w].FirstCall;
        }

        var recalibrating = Array.FindIndex(mine, c => c.Recalibrating);
        return new ShiftReport(shift, mine.Length, before.TruncationRate(type, budgetBefore), budgetBefore, optimalTruncation, budgetAfter, windows, followed)
        {
            FirstRecalibrating = recalibrating >= 0 ? recalibrating : null,
        };
    }

    public void Write(TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(output);
        var measure = Shift.Factor > 1 ? "truncation" : "reserved tokens per call";
        output.WriteLine();
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"after the shift: '{Shift.TaskType}' needs x{Shift.Factor:0.##} from adaptive call {Shift.FromCall:N0}; {CallsAfter:N0} of its calls after it"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"optimal per-type allocation for '{Shift.TaskType}': before {OptimalBudgetBefore:N0} tokens at {Pct(OptimalTruncationBefore)} truncation; on the shifted needs {OptimalBudget:N0} tokens at {Pct(OptimalTruncation)}"));
        output.WriteLine(FirstRecalibrating is { } first
            ? string.Create(CultureInfo.InvariantCulture, $"first grant of its calls after the shift saying REASON_CODE_RECALIBRATING: its call {first + 1:N0}")
            : "no grant of its calls after the shift said REASON_CODE_RECALIBRATING");
        output.WriteLine($"its calls after the shift, in windows of {WindowCalls}: truncation, reserved tokens per call");
        foreach (var w in Windows)
        {
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {w.FirstCall + 1,6:N0}..{w.FirstCall + w.Calls,-6:N0} {Pct(w.TruncationRate),7} {w.ReservedPerCall,10:N0}"));
        }

        output.WriteLine(CallsUntilFollowed is { } calls
            ? string.Create(CultureInfo.InvariantCulture, $"followed: its {measure} stays within {Tolerance:0.0}x the optimum's after {calls:N0} of its calls (target <= 3,000)")
            : string.Create(CultureInfo.InvariantCulture, $"NOT followed: its {measure} is not within {Tolerance:0.0}x the optimum's in the last window"));
    }

    private static string Pct(double fraction) => (fraction * 100).ToString("0.00", CultureInfo.InvariantCulture) + "%";
}
