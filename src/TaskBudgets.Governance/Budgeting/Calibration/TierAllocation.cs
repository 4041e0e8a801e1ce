namespace TaskBudgets.Governance.Budgeting.Calibration;

/// <summary>One task type in a tier's allocation: its share of the tier's calls and its budget choices.</summary>
/// <param name="Weight">The task type's share of the tier's calls, 0..1.</param>
/// <param name="Candidates">Budgets it may get, ascending, with the share of its calls each would truncate.</param>
/// <param name="Costs">
/// What each candidate costs in reserved tokens per task (the budget and, say, its escalation
/// ladder's expected retries), one per candidate; null when the cost is the budget itself.
/// </param>
public sealed record AllocationItem(double Weight, IReadOnlyList<(long Budget, double Survival)> Candidates, IReadOnlyList<double>? Costs = null);

/// <summary>
/// Shares a tier's truncation target out across its task types with the least reasoning tokens
/// reserved: minimise sum(w_i * cost_i(b_i)) subject to sum(w_i * S_i(b_i)) &lt;= target, where the
/// cost is the budget or, with <see cref="AllocationItem.Costs"/>, what the budget reserves per
/// task with its retries. The Lagrangian
/// answer equalises the marginal truncation saved per token reserved across task types, so the
/// greedy below walks each type's lower convex hull of (budget, survival) and always takes the
/// step that saves the most truncation per token, until the target is met. A type with a long,
/// expensive tail is left to truncate a little more where a cheap type can truncate less.
/// </summary>
public static class TierAllocation
{
    /// <summary>The budget of each item, in order.</summary>
    /// <param name="items">The task types whose budgets are free to choose.</param>
    /// <param name="fixedTruncation">Weighted truncation of the tier's task types whose budgets are fixed.</param>
    /// <param name="target">The tier's target truncation rate.</param>
    public static long[] Allocate(IReadOnlyList<AllocationItem> items, double fixedTruncation, double target)
    {
        ArgumentNullException.ThrowIfNull(items);
        var hulls = new List<Point>[items.Count];
        var at = new int[items.Count];
        var truncation = fixedTruncation;
        for (var i = 0; i < items.Count; i++)
        {
            hulls[i] = Hull(Points(items[i]));
            truncation += items[i].Weight * hulls[i][0].Survival;
        }

        var last = -1;
        while (truncation > target + 1e-12)
        {
            var best = -1;
            var bestGain = 0.0;
            for (var i = 0; i < items.Count; i++)
            {
                var hull = hulls[i];
                if (at[i] + 1 >= hull.Count || items[i].Weight <= 0)
                {
                    continue;
                }

                var (c0, s0) = (hull[at[i]].Cost, hull[at[i]].Survival);
                var (c1, s1) = (hull[at[i] + 1].Cost, hull[at[i] + 1].Survival);
                var gain = (s0 - s1) / Math.Max(1, c1 - c0);
                if (gain > bestGain)
                {
                    best = i;
                    bestGain = gain;
                }
            }

            if (best < 0)
            {
                break; // every type is at its best: the target cannot be met within the rules' max
            }

            truncation -= items[best].Weight * (hulls[best][at[best]].Survival - hulls[best][at[best] + 1].Survival);
            at[best]++;
            last = best;
        }

        var budgets = new long[items.Count];
        for (var i = 0; i < items.Count; i++)
        {
            budgets[i] = hulls[i][at[i]].Budget;
        }

        if (last >= 0)
        {
            budgets[last] = ShortenLastStep(items[last], hulls[last][at[last] - 1], hulls[last][at[last]], target - truncation);
        }

        return budgets;
    }

    /// <summary>
    /// The last step need not go all the way to the next hull point: it only has to bring the tier
    /// to its target. The cheapest of the type's candidates between the two points that still
    /// does (its truncation at most <paramref name="slack"/> / weight above the step's end) keeps
    /// the tier at its target instead of under it by up to a whole step (a step of a heavy type
    /// with a sparse curve can be a tenth of the target).
    /// </summary>
    private static long ShortenLastStep(AllocationItem item, Point from, Point to, double slack)
    {
        var allowed = to.Survival + (slack / Math.Max(item.Weight, 1e-12));
        foreach (var p in Points(item))
        {
            if (p.Cost > from.Cost && p.Cost < to.Cost && p.Survival <= allowed + 1e-12)
            {
                return p.Budget;
            }
        }

        return to.Budget;
    }

    /// <summary>
    /// The points of (budget, survival) on the lower convex hull, up to the first that reaches the
    /// lowest survival: the only budgets an optimal allocation ever picks, each step saving less
    /// truncation per token than the one before.
    /// </summary>
    public static List<(long Budget, double Survival)> LowerHull(IReadOnlyList<(long Budget, double Survival)> points)
    {
        ArgumentNullException.ThrowIfNull(points);
        return [.. Hull([.. points.Select(p => new Point(p.Budget, p.Budget, p.Survival))]).Select(p => (p.Budget, p.Survival))];
    }

    /// <summary>The item's candidates as points of (cost, survival), cheapest first.</summary>
    private static List<Point> Points(AllocationItem item)
    {
        var points = new List<Point>(item.Candidates.Count);
        for (var i = 0; i < item.Candidates.Count; i++)
        {
            var (budget, survival) = item.Candidates[i];
            points.Add(new Point(budget, item.Costs is { } costs ? costs[i] : budget, survival));
        }

        if (item.Costs is not null)
        {
            // A dearer budget pays off only if it truncates less; the hull drops the others.
            points.Sort((a, b) => a.Cost != b.Cost ? a.Cost.CompareTo(b.Cost) : a.Survival.CompareTo(b.Survival));
        }

        return points;
    }

    private static List<Point> Hull(List<Point> points)
    {
        if (points.Count == 0)
        {
            throw new ArgumentException("An allocation item needs at least one budget.", nameof(points));
        }

        var hull = new List<Point>(points.Count);
        foreach (var p in points)
        {
            while (hull.Count >= 2 && Cross(hull[^2], hull[^1], p) <= 0)
            {
                hull.RemoveAt(hull.Count - 1);
            }

            hull.Add(p);
        }

        var lowest = 0;
        for (var i = 1; i < hull.Count; i++)
        {
            if (hull[i].Survival < hull[lowest].Survival - 1e-15)
            {
                lowest = i;
            }
        }

        hull.RemoveRange(lowest + 1, hull.Count - lowest - 1);
        return hull;
    }

    private static double Cross(Point o, Point a, Point b) =>
        ((a.Cost - o.Cost) * (b.Survival - o.Survival)) - ((a.Survival - o.Survival) * (b.Cost - o.Cost));

    private readonly record struct Point(long Budget, double Cost, double Survival);
}
