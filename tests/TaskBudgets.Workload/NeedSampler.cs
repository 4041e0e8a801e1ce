using TaskBudgets.V1;

namespace TaskBudgets.Workload;

/// <summary>
/// One call of the workload: its task type (index into the workload's task types), what it really
/// needs, the complexity hint it is sent with (if any), and the phase and estimated input size it
/// is sent with (unspecified and 500 tokens without call features).
/// </summary>
internal readonly record struct PlannedCall(int TaskType, long Need, double? Complexity = null, Phase Phase = Phase.Unspecified, long InputTokens = 500);

/// <summary>
/// Draws calls from a workload with a seeded generator, so a seed gives the same calls in the same
/// order on every run and machine (System.Random with a seed is the documented, stable algorithm).
/// </summary>
/// <param name="hintCorrelation">
/// When set (R, 0..1), every call carries a complexity hint correlated with its need: the normal CDF
/// of R x the call's standardised log need (within its task type) + sqrt(1 - R^2) x noise. The
/// noise has its own stream, so the needs are the same with or without hints.
/// </param>
/// <param name="callFeatures">
/// Every call carries a phase and an estimated input size drawn from the workload's
/// <c>call_features</c>, and needs its base need x its phase's factor x its input factor. They are
/// drawn from their own stream, so the base needs (and hints, which follow the base need) are the
/// same with or without them.
/// </param>
internal sealed class NeedSampler(WorkloadFile workload, int seed, double? hintCorrelation = null, bool callFeatures = false)
{
    private readonly Random random = new(seed);
    private readonly Random noise = new(seed ^ 0x5eed);
    private readonly Random featureDraws = new(seed ^ 0xfea7);
    private readonly WorkloadFile.CallFeaturesEntry? features = !callFeatures ? null
        : workload.CallFeatures ?? throw new ArgumentException("--call-features needs a call_features section in the workload file");
    private readonly double[] shares = Cumulative(workload.TaskTypes.Select(t => t.Share));
    private readonly double[][] weights = workload.TaskTypes.Select(t => Cumulative(t.Need.Select(c => c.Weight))).ToArray();
    private (double Mean, double Sd)[]? logNeed;

    public PlannedCall Next()
    {
        var type = Pick(shares, random.NextDouble());
        var need = Need(type);
        var call = new PlannedCall(type, need, hintCorrelation is { } r ? Hint(type, need, r) : null);
        return features is null ? call : WithFeatures(call, features);
    }

    /// <summary>The call with a phase and an input size drawn, and its need multiplied by what they do to it.</summary>
    private PlannedCall WithFeatures(PlannedCall call, WorkloadFile.CallFeaturesEntry entry)
    {
        // Two draws per call whatever the section holds, so the stream stays aligned with the calls.
        var u = featureDraws.NextDouble();
        var z = StandardNormal(featureDraws);
        var (phase, factor) = (Phase.Standard, 1.0);
        var cumulative = 0.0;
        foreach (var p in entry.Phases)
        {
            cumulative += p.Share;
            if (u < cumulative)
            {
                (phase, factor) = (p.Phase == "deep" ? Phase.Deep : Phase.Preliminary, p.NeedFactor);
                break;
            }
        }

        var input = call.InputTokens;
        if (entry.InputTokens is { Lognormal: { } size } range)
        {
            input = (long)Math.Clamp(Math.Round(size.Median * Math.Exp(size.Sigma * z)), range.Min, range.Max);
            factor *= entry.InputFactor(input);
        }

        var need = (long)Math.Clamp(Math.Round(call.Need * factor), 1, 10_000_000);
        return call with { Need = need, Phase = phase, InputTokens = input };
    }

    /// <summary>The hint of a call of <paramref name="type"/> that needs <paramref name="need"/>.</summary>
    private double Hint(int type, long need, double r)
    {
        logNeed ??= LogNeedMoments();
        var (mean, sd) = logNeed[type];
        var z = sd > 0 ? (Math.Log(need) - mean) / sd : 0;
        return NormalCdf((r * z) + (Math.Sqrt(Math.Max(0, 1 - (r * r))) * StandardNormal(noise)));
    }

    /// <summary>Mean and standard deviation of ln(need) per task type, from a sample of its own (a fixed seed).</summary>
    private (double, double)[] LogNeedMoments()
    {
        var sampler = new NeedSampler(workload, 20_261_206);
        var moments = new (double, double)[workload.TaskTypes.Count];
        for (var t = 0; t < moments.Length; t++)
        {
            var logs = Enumerable.Range(0, 20_000).Select(_ => Math.Log(sampler.Need(t))).ToArray();
            var mean = logs.Average();
            moments[t] = (mean, Math.Sqrt(logs.Sum(l => (l - mean) * (l - mean)) / logs.Length));
        }

        return moments;
    }

    /// <summary>The standard normal CDF (Abramowitz and Stegun 7.1.26 for erf; error below 2e-7).</summary>
    private static double NormalCdf(double x)
    {
        var t = 1.0 / (1.0 + (0.3275911 * Math.Abs(x) / Math.Sqrt(2)));
        var poly = t * (0.254829592 + (t * (-0.284496736 + (t * (1.421413741 + (t * (-1.453152027 + (t * 1.061405429))))))));
        var erf = 1.0 - (poly * Math.Exp(-x * x / 2));
        return x >= 0 ? 0.5 * (1 + erf) : 0.5 * (1 - erf);
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
            need = logNormal.Median * Math.Exp(logNormal.Sigma * StandardNormal(random));
        }
        else
        {
            var pareto = component.Pareto!;
            need = pareto.Scale * Math.Pow(1.0 - random.NextDouble(), -1.0 / pareto.Alpha);
        }

        return (long)Math.Clamp(Math.Round(need), 1, 10_000_000);
    }

    /// <summary>Box-Muller.</summary>
    private static double StandardNormal(Random random)
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
