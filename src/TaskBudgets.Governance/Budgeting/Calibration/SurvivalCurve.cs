namespace TaskBudgets.Governance.Budgeting.Calibration;

/// <summary>
/// P(need &gt; budget) for one tier and task type: the Kaplan-Meier (product-limit) estimator over a
/// sketch's bins. A truncated call is censored: it stays in the risk set up to its value and then
/// leaves it without counting as a need met, so truncations raise the estimate above their budget
/// instead of pinning it there, which is what treating the budget as the need would do.
/// A retry after a truncation at P is a delayed entry (left truncation): it is known to need more
/// than P, so it joins the risk set only above P, and a task truncated at P that completes at U on
/// its next attempt counts as one need U, not as a censored call plus a second, independent need.
/// </summary>
/// <remarks>
/// <para>
/// Where fewer than <see cref="TailSupport"/> calls remain at risk, the product-limit estimate
/// says little: past the budget most calls got, only the few exploring calls reach, and the
/// estimate is flat (no call completed there) or drops to nothing at the last one that did.
/// Sized from that, a heavy task type sees no gain in a larger budget and keeps truncating, or
/// sees no tail at all. There the curve follows a power law fitted to its known part
/// (<see cref="Survival"/>): a tail at least as heavy as a lognormal's, so budgets move into it,
/// where the calls then place it. Never below the share of calls proven to need more.
/// </para>
/// <para>
/// Beyond the largest value seen the data cannot say where the truncated calls' needs lie. The
/// curve assumes they lie at or below the rule's max (the largest budget the rule can grant),
/// except the calls that were truncated even at max, or used more: at max the survival is the
/// least of the estimate and that proven share. So a task type that keeps truncating is pushed
/// toward its max, where its calls resolve and the estimate tightens.
/// </para>
/// <para>
/// Percentiles (<see cref="Percentile"/>) are the data's alone: a fitted tail is a budget's
/// guess, not a measurement.
/// </para>
/// </remarks>
public sealed class SurvivalCurve
{
    /// <summary>The calls that must remain at risk for the product-limit estimate to place the tail.</summary>
    public const double TailSupport = 10;

    /// <summary>The most the curve may be where its fitted tail begins: above it the body is not known well enough to fit.</summary>
    private const double FittedTailFrom = 0.25;

    private readonly long[] edges;
    private readonly double[] survival;
    private readonly double[] censoredFrom;
    private readonly double[] completedFrom;
    private readonly double total;

    /// <summary>The last bin the estimate places (enough calls at risk); past it the fitted tail, when <see cref="tailExponent"/> &gt; 0.</summary>
    private readonly int supportedTo;
    private readonly double tailExponent;

    public SurvivalCurve(UsageSketch sketch, long ruleMax)
    {
        ArgumentNullException.ThrowIfNull(sketch);
        RuleMax = ruleMax;
        var length = sketch.Length;
        edges = new long[length];
        survival = new double[length];
        censoredFrom = new double[length + 1];
        completedFrom = new double[length + 1];
        for (var i = length - 1; i >= 0; i--)
        {
            censoredFrom[i] = censoredFrom[i + 1] + sketch.CensoredAt(i);
            completedFrom[i] = completedFrom[i + 1] + sketch.CompletedAt(i);
        }

        // Tasks: every call but the continuations (each continues a call counted already).
        total = Math.Max(0, censoredFrom[0] + completedFrom[0] - sketch.EnteredWeight);
        for (var i = length - 1; i >= 0; i--)
        {
            if (sketch.CompletedAt(i) > 0 || sketch.CensoredAt(i) > 0)
            {
                LargestObserved = UsageSketch.UpperEdge(i);
                break;
            }
        }

        for (var i = length - 1; i >= 0; i--)
        {
            if (sketch.CompletedAt(i) > 0)
            {
                LargestCompleted = UsageSketch.UpperEdge(i);
                break;
            }
        }

        // At risk at bin i: the calls whose value reaches bin i, less those not yet entered (an
        // entry at bin e joins from bin e + 1).
        var notEntered = sketch.EnteredWeight;
        var s = 1.0;
        supportedTo = length - 1;
        var supported = true;
        for (var i = 0; i < length; i++)
        {
            edges[i] = UsageSketch.UpperEdge(i);
            var atRisk = censoredFrom[i] + completedFrom[i] - Math.Max(0, notEntered);
            notEntered -= sketch.EnteredAt(i);
            if (supported && atRisk < TailSupport && i > 0)
            {
                supportedTo = i - 1;
                supported = false;
            }

            var events = sketch.CompletedAt(i);
            if (atRisk > 1e-12 && events > 0)
            {
                s *= Math.Max(0.0, 1.0 - Math.Min(1.0, events / atRisk));
            }

            survival[i] = s;
        }

        tailExponent = supported ? 0 : TailExponent(edges, survival, supportedTo);
    }

    /// <summary>
    /// The power law's exponent: the slope of log survival against log tokens, from where the
    /// curve is four times its value at the end of the known part (at most the median) to that
    /// end. A lognormal's slope only steepens further out, so the fitted tail overstates the need
    /// rather than understates it. 0 (no fitted tail) where the known part is too short to fit.
    /// </summary>
    private static double TailExponent(long[] edges, double[] survival, int end)
    {
        var last = survival[end];
        if (last <= 0 || last > FittedTailFrom)
        {
            return 0;
        }

        var from = Math.Min(0.5, 4 * last);
        for (var j = end - 1; j >= 0; j--)
        {
            if (survival[j] >= from)
            {
                var slope = Math.Log(survival[j] / last) / Math.Log((double)edges[end] / edges[j]);
                return double.IsFinite(slope) && slope > 0 ? slope : 0;
            }
        }

        return 0;
    }

    public long RuleMax { get; }

    /// <summary>The largest value any call reached (completed or truncated), to the sketch's accuracy; 0 with no calls.</summary>
    public long LargestObserved { get; }

    /// <summary>The largest need a completed call showed, to the sketch's accuracy; 0 when none completed.</summary>
    public long LargestCompleted { get; }

    /// <summary>Total weight of the calls behind the curve.</summary>
    public double Weight => total;

    /// <summary>
    /// The estimated share of calls that need more than <paramref name="budget"/> tokens: the
    /// product-limit estimate where it has the calls to place it, the fitted tail past that.
    /// </summary>
    public double Survival(long budget)
    {
        var fits = LastFitting(budget);
        if (tailExponent <= 0 || fits <= supportedTo || budget >= RuleMax || total <= 0)
        {
            return Observed(budget, fits);
        }

        var fitted = survival[supportedTo] * Math.Pow((double)budget / edges[supportedTo], -tailExponent);
        return Math.Max(fitted, Proven(budget, fits) / total);
    }

    /// <summary>The share of calls that need more than <paramref name="budget"/> tokens as the data alone places it (the product-limit estimate).</summary>
    public double ObservedSurvival(long budget) => Observed(budget, LastFitting(budget));

    /// <param name="fits">The last bin the budget covers (<see cref="LastFitting"/>).</param>
    private double Observed(long budget, int fits)
    {
        if (total <= 0)
        {
            return 0;
        }

        var s = fits < 0 ? 1.0 : survival[fits];
        if (budget >= RuleMax)
        {
            s = Math.Min(s, Proven(budget, fits) / total);
        }

        return s;
    }

    /// <summary>
    /// Calls truncated at (or past) this budget, or that used more: a need beyond it is proven. To
    /// the sketch's accuracy: a budget on a bin's edge covers that bin, and whole tokens round the
    /// edge up into the next bin's range, so that bin's completed calls used more.
    /// </summary>
    /// <param name="covered">The last bin the budget covers (<see cref="LastFitting"/>).</param>
    private double Proven(long budget, int covered)
    {
        var at = Math.Min(UsageSketch.IndexOf(budget), edges.Length);
        var past = covered >= 0 && edges[covered] == budget ? covered + 1 : at + 1;
        return censoredFrom[at] + completedFrom[Math.Min(past, edges.Length)];
    }

    /// <summary>The last bin whose every value fits the budget; -1 for none.</summary>
    private int LastFitting(long budget)
    {
        var lo = 0;
        var hi = edges.Length - 1;
        var fits = -1;
        while (lo <= hi)
        {
            var mid = (lo + hi) >>> 1;
            if (edges[mid] <= budget)
            {
                fits = mid;
                lo = mid + 1;
            }
            else
            {
                hi = mid - 1;
            }
        }

        return fits;
    }

    /// <summary>
    /// The smallest budget within <paramref name="min"/>..<paramref name="max"/> whose survival
    /// as the data places it (<see cref="ObservedSurvival"/>) is at most <paramref name="share"/>;
    /// <paramref name="max"/> when none is.
    /// </summary>
    public long BudgetFor(double share, long min, long max)
    {
        foreach (var (budget, s) in Candidates(min, max, ObservedSurvival))
        {
            if (s <= share + 1e-12)
            {
                return budget;
            }
        }

        return max;
    }

    /// <summary>The reasoning tokens a share <paramref name="q"/> of calls needed at most (capped at the rule's max).</summary>
    public long Quantile(double q) => total <= 0 ? 0 : BudgetFor(1.0 - q, 0, RuleMax);

    /// <summary>
    /// The <paramref name="q"/> quantile of the need where the data places it; where more than
    /// 1 - q of the calls are still unresolved past the largest value any call reached (their
    /// needs lie beyond every call seen), only that lower bound, marked censored.
    /// </summary>
    public UsagePercentile Percentile(double q)
    {
        if (total <= 0)
        {
            return default;
        }

        var known = Math.Min(LargestObserved, RuleMax);
        if (ObservedSurvival(known) > 1.0 - q + 1e-12)
        {
            return new UsagePercentile(known, Censored: true);
        }

        return new UsagePercentile(BudgetFor(1.0 - q, 0, known), Censored: false);
    }

    /// <summary>
    /// The budgets worth considering within min..max: min, every bin edge between, and max; each
    /// with its survival. Ascending in budget, non-increasing in survival.
    /// </summary>
    public List<(long Budget, double Survival)> Candidates(long min, long max) => Candidates(min, max, Survival);

    private List<(long Budget, double Survival)> Candidates(long min, long max, Func<long, double> survivalAt)
    {
        var list = new List<(long, double)> { (min, survivalAt(min)) };
        foreach (var edge in edges)
        {
            if (edge > min && edge < max)
            {
                list.Add((edge, survivalAt(edge)));
            }
        }

        if (max > min)
        {
            list.Add((max, survivalAt(max)));
        }

        return list;
    }
}

/// <summary>A percentile of the need: the tokens, or (when <paramref name="Censored"/>) only a lower bound: the need lies beyond it.</summary>
public readonly record struct UsagePercentile(long Tokens, bool Censored);
