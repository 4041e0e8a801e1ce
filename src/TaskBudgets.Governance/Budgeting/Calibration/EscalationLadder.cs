namespace TaskBudgets.Governance.Budgeting.Calibration;

/// <summary>
/// The cheapest escalation ladder after each candidate first budget of one task type. A task
/// granted b1 whose need is more (share S(b1)) retries at b2, then b3, then b4: it reserves
/// b1 + S(b1) b2 + S(b2) b3 + S(b3) b4 tokens on average. Each step must still meet the tier's
/// target on the calls that reach it (S(b_{k+1}) &lt;= target * S(b_k)); within that, dynamic
/// programming over the curve's candidate budgets finds the steps with the least expected cost,
/// for every b1 at once (O(steps x candidates^2)), so the allocation can weigh each first budget
/// with its whole cost rather than b1 alone.
/// </summary>
public sealed class EscalationLadder
{
    /// <summary>Retry steps after the first budget: attempts 2, 3 and 4.</summary>
    public const int Steps = CalibratedBudget.LadderAttempts - 1;

    private readonly IReadOnlyList<(long Budget, double Survival)> candidates;

    // next[m][j]: the candidate the next step takes after candidate j with m + 1 steps to go.
    private readonly int[][] next;

    private readonly double[] costs;

    private EscalationLadder(IReadOnlyList<(long Budget, double Survival)> candidates, int[][] next, double[] costs)
    {
        this.candidates = candidates;
        this.next = next;
        this.costs = costs;
    }

    /// <summary>
    /// Expected reserved tokens per task with each candidate as the first budget and its best
    /// ladder (the retries weighed by the share of truncated attempts retried), in candidate order.
    /// </summary>
    public IReadOnlyList<double> Costs => costs;

    /// <summary>Works out the ladders.</summary>
    /// <param name="candidates">Budgets, ascending, each with the survival of the need there (non-increasing); the last is the most any step may be.</param>
    /// <param name="target">The tier's target truncation rate, 0..1.</param>
    /// <param name="retryShare">
    /// The share of truncated attempts that callers retry, 0..1: the retries' cost counts this much
    /// in <see cref="Costs"/>, so a tier whose callers never retry is sized on first budgets alone.
    /// </param>
    public static EscalationLadder Build(IReadOnlyList<(long Budget, double Survival)> candidates, double target, double retryShare = 1.0)
    {
        ArgumentNullException.ThrowIfNull(candidates);
        var n = candidates.Count;
        if (n == 0)
        {
            throw new ArgumentException("A ladder needs at least one budget.", nameof(candidates));
        }

        var next = new int[Steps][];

        // ahead[j]: the least expected cost of the steps still to come after a truncation at candidate
        // j, weighted by S(j) (the share of tasks that pay it); no steps to go costs nothing.
        var ahead = new double[n];
        for (var m = 0; m < Steps; m++)
        {
            var choice = new int[n];
            var cost = new double[n];
            for (var j = 0; j < n; j++)
            {
                var s = candidates[j].Survival;
                if (s <= 0)
                {
                    // Nothing reaches a retry: the ladder stays where it is, at no cost.
                    choice[j] = j;
                    continue;
                }

                var best = -1;
                var bestCost = double.PositiveInfinity;
                for (var l = j + 1; l < n; l++)
                {
                    if (candidates[l].Survival > (target * s) + 1e-12)
                    {
                        continue;
                    }

                    var c = (s * candidates[l].Budget) + ahead[l];
                    if (c < bestCost)
                    {
                        best = l;
                        bestCost = c;
                    }
                }

                if (best < 0)
                {
                    // No budget meets the target on these calls: the most there is (again, at the top).
                    best = n - 1;
                    bestCost = (s * candidates[best].Budget) + ahead[best];
                }

                choice[j] = best;
                cost[j] = bestCost;
            }

            next[m] = choice;
            ahead = cost;
        }

        var costs = new double[n];
        for (var j = 0; j < n; j++)
        {
            costs[j] = candidates[j].Budget + (Math.Clamp(retryShare, 0.0, 1.0) * ahead[j]);
        }

        return new EscalationLadder(candidates, next, costs);
    }

    /// <summary>The retry budgets (attempts 2, 3, 4) after a first budget of candidate <paramref name="first"/>.</summary>
    public long[] StepsAfter(int first)
    {
        var steps = new long[Steps];
        var j = first;
        for (var k = 0; k < Steps; k++)
        {
            j = next[Steps - 1 - k][j];
            steps[k] = candidates[j].Budget;
        }

        return steps;
    }

    /// <summary>The candidate whose budget is <paramref name="budget"/> (the last at or below it).</summary>
    public int IndexOf(long budget)
    {
        var at = 0;
        for (var i = 0; i < candidates.Count && candidates[i].Budget <= budget; i++)
        {
            at = i;
        }

        return at;
    }
}
