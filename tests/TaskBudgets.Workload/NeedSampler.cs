namespace TaskBudgets.Workload;

/// <summary>One call of the workload: its task type (index into the workload's task types) and what it really needs.</summary>
internal readonly record struct PlannedCall(int TaskType, long Need);

/// <summary>
/// Draws calls from a workload with a seeded generator, so a seed gives the same calls in the same
/// order on every run and machine (System.Random with a seed is the documented, stable algorithm).
/// </summary>
internal sealed class NeedSampler(WorkloadFile workload, int seed)
{
    private readonly Random random = new(seed);
    private readonly double[] shares = Cumulative(workload.TaskTypes.Select(t => t.Share));
    private readonly double[][] weights = workload.TaskTypes.Select(t => Cumulative(t.Need.Select(c => c.Weight))).ToArray();

    public PlannedCall Next()
    {
        var type = Pick(shares, random.NextDouble());
        return new PlannedCall(type, Need(type));
    }

    public PlannedCall[] Plan(int calls)
    {
        var plan = new PlannedCall[calls];
        for (var i = 0; i < calls; i++)
        {
            plan[i] = Next();
        }

        return plan;
    }

    /// <summary>A draw of the reasoning need of a call of task type <paramref name="type"/>, at least 1 token.</summary>
    public long Need(int type)
    {
        var components = workload.TaskTypes[type].Need;
        var component = components[Pick(weights[type], random.NextDouble())];
        double need;
        if (component.Lognormal is { } logNormal)
        {
            need = logNormal.Median * Math.Exp(logNormal.Sigma * StandardNormal());
        }
        else
        {
            var pareto = component.Pareto!;
            need = pareto.Scale * Math.Pow(1.0 - random.NextDouble(), -1.0 / pareto.Alpha);
        }

        return (long)Math.Clamp(Math.Round(need), 1, 10_000_000);
    }

    /// <summary>Box-Muller.</summary>
    private double StandardNormal()
    {
        var u1 = 1.0 - random.NextDouble();
        var u2 = random.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }

    private static double[] Cumulative(IEnumerable<double> weights)
    {
        var all = weights.ToArray();
        var total = all.Sum();
        var sum = 0.0;
        return all.Select(w => sum += w / total).ToArray();
    }

    private static int Pick(double[] cumulative, double u)
    {
        for (var i = 0; i < cumulative.Length - 1; i++)
        {
            if (u < cumulative[i])
            {
                return i;
            }
        }

        return cumulative.Length - 1;
    }
}
