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
/// Beyond the largest value seen the data cannot say where the truncated calls' needs lie. The
/// curve assumes they lie at or below the rule's max (the largest budget the rule can grant),
/// except the calls that were truncated even at max, or used more: at max the survival is the
/// least of the product-limit estimate and that proven share. So a task type that keeps
/// truncating is pushed toward its max, where its calls resolve and the estimate tightens.
/// </remarks>
public sealed class SurvivalCurve
{
    private readonly long[] edges;
    private readonly double[] survival;
    private readonly double[] censoredFrom;
    private readonly double[] completedFrom;
    private readonly double total;

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
        for (var i = 0; i < length; i++)
        {
            edges[i] = UsageSketch.UpperEdge(i);
            var atRisk = censoredFrom[i] + completedFrom[i] - Math.Max(0, notEntered);
            notEntered -= sketch.EnteredAt(i);
            var events = sketch.CompletedAt(i);
            if (atRisk > 1e-12 && events > 0)
            {
                s *= Math.Max(0.0, 1.0 - Math.Min(1.0, events / atRisk));
            }

            survival[i] = s;
        }
    }

    public long RuleMax { get; }

    /// <summary>The largest value any call reached (completed or truncated), to the sketch's accuracy; 0 with no calls.</summary>
    public long LargestObserved { get; }

    /// <summary>The largest need a completed call showed, to the sketch's accuracy; 0 when none completed.</summary>
    public long LargestCompleted { get; }

    /// <summary>Total weight of the calls behind the curve.</summary>
    public double Weight => total;

    /// <summary>The estimated share of calls that need more than <paramref name="budget"/> tokens.</summary>
    public double Survival(long budget)
    {
        if (total <= 0)
        {
            return 0;
        }

        // The last bin whose every value fits the budget.
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

        var s = fits < 0 ? 1.0 : survival[fits];
        if (budget >= RuleMax)
        {
            // Calls truncated at (or past) this budget, or that used more, prove a need beyond it.
            var at = Math.Min(UsageSketch.IndexOf(budget), edges.Length);
            var proven = censoredFrom[at] + completedFrom[Math.Min(at + 1, edges.Length)];
            s = Math.Min(s, proven / total);
        }

        return s;
    }

    /// <summary>
    /// The smallest budget within <paramref name="min"/>..<paramref name="max"/> whose estimated
    /// survival is at most <paramref name="share"/>; <paramref name="max"/> when none is.
    /// </summary>
    public long BudgetFor(double share, long min, long max)
    {
        foreach (var (budget, s) in Candidates(min, max))
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
        if (Survival(known) > 1.0 - q + 1e-12)
        {
            return new UsagePercentile(known, Censored: true);
        }

        return new UsagePercentile(BudgetFor(1.0 - q, 0, known), Censored: false);
    }

    /// <summary>
    /// The budgets worth considering within min..max: min, every bin edge between, and max; each
    /// with its survival. Ascending in budget, non-increasing in survival.
    /// </summary>
    public List<(long Budget, double Survival)> Candidates(long min, long max)
    {
        var list = new List<(long, double)> { (min, Survival(min)) };
        foreach (var edge in edges)
        {
            if (edge > min && edge < max)
            {
                list.Add((edge, Survival(edge)));
            }
        }

        if (max > min)
        {
            list.Add((max, Survival(max)));
        }

        return list;
    }
}

/// <summary>A percentile of the need: the tokens, or (when <paramref name="Censored"/>) only a lower bound: the need lies beyond it.</summary>
public readonly record struct UsagePercentile(long Tokens, bool Censored);
