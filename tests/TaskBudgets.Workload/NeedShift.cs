using System.Globalization;

namespace TaskBudgets.Workload;

/// <summary>
/// A change of one task type's need part-way through the adaptive phase (<c>--shift TYPE:FACTOR@CALL</c>):
/// from adaptive call <see cref="FromCall"/> on (0-based), that type's calls need <see cref="Factor"/>
/// times what the seed draws for them. Everything else (which calls, their order, the other types)
/// stays the seed's.
/// </summary>
internal sealed record NeedShift(string TaskType, double Factor, int FromCall)
{
    /// <exception cref="ArgumentException">Not TYPE:FACTOR@CALL with a factor in 0.01..100.</exception>
    public static NeedShift Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var colon = text.LastIndexOf(':');
        var at = text.LastIndexOf('@');
        if (colon <= 0 || at < colon
            || !double.TryParse(text.AsSpan(colon + 1, at - colon - 1), NumberStyles.Float, CultureInfo.InvariantCulture, out var factor)
            || !int.TryParse(text.AsSpan(at + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var from)
            || factor is not (>= 0.01 and <= 100) || factor == 1.0)
        {
            throw new ArgumentException("--shift must be TYPE:FACTOR@CALL (e.g. coding:3@15000; factor 0.01..100, not 1)");
        }

        return new NeedShift(text[..colon], factor, from);
    }

    /// <summary>The index of the shifted type in <paramref name="workload"/>.</summary>
    /// <exception cref="ArgumentException">The workload has no such task type.</exception>
    public int TypeIndex(WorkloadFile workload)
    {
        ArgumentNullException.ThrowIfNull(workload);
        var index = workload.TaskTypes.FindIndex(t => t.Name == TaskType);
        return index >= 0 ? index : throw new ArgumentException($"--shift: the workload has no task type '{TaskType}'");
    }

    /// <summary>The plan with the shifted type's needs multiplied from <paramref name="fromCall"/> on.</summary>
    public PlannedCall[] Apply(WorkloadFile workload, PlannedCall[] plan, int fromCall)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var type = TypeIndex(workload);
        var shifted = (PlannedCall[])plan.Clone();
        for (var i = Math.Max(0, fromCall); i < shifted.Length; i++)
        {
            if (shifted[i].TaskType == type)
            {
                shifted[i] = shifted[i] with { Need = Math.Clamp((long)Math.Round(shifted[i].Need * Factor), 1, 10_000_000) };
            }
        }

        return shifted;
    }
}
