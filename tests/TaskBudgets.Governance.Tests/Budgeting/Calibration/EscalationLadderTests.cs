using TaskBudgets.Governance.Budgeting.Calibration;

namespace TaskBudgets.Governance.Tests.Budgeting.Calibration;

public class EscalationLadderTests
{
    /// <summary>A small curve: budgets 100..1,200, the survival of a heavy-tailed need, 0 at the top.</summary>
    private static readonly (long Budget, double Survival)[] Curve =
    [
        (100, 0.9), (150, 0.7), (200, 0.5), (300, 0.3), (400, 0.2), (500, 0.12),
        (600, 0.08), (700, 0.05), (800, 0.03), (900, 0.012), (1_000, 0.004), (1_200, 0.0),
    ];

    /// <summary>Every ladder of three steps that meets the target at each step, by brute force.</summary>
    private static (double Cost, long[] Steps) BruteForce(int first, double target)
    {
        var best = (Cost: double.PositiveInfinity, Steps: Array.Empty<long>());
        var n = Curve.Length;
        bool Meets(int from, int to) => Curve[from].Survival <= 0 ? to == from : to > from && Curve[to].Survival <= (target * Curve[from].Survival) + 1e-12;
        for (var a = 0; a < n; a++)
        {
            for (var b = 0; b < n; b++)
            {
                for (var c = 0; c < n; c++)
                {
                    if (!Meets(first, a) || !Meets(a, b) || !Meets(b, c))
                    {
                        continue;
                    }

                    var cost = Curve[first].Budget + (Curve[first].Survival * Curve[a].Budget) + (Curve[a].Survival * Curve[b].Budget) + (Curve[b].Survival * Curve[c].Budget);
                    if (cost < best.Cost - 1e-9)
                    {
                        best = (cost, [Curve[a].Budget, Curve[b].Budget, Curve[c].Budget]);
                    }
                }
            }
        }

        return best;
    }

    [Theory]
    [InlineData(0.5)]
    [InlineData(0.3)]
    [InlineData(0.6)]
    public void The_ladder_after_each_first_budget_is_the_cheapest_a_brute_force_search_finds(double target)
    {
        var ladder = EscalationLadder.Build(Curve, target);

        for (var first = 0; first < Curve.Length; first++)
        {
            var (cost, steps) = BruteForce(first, target);
            Assert.Equal(cost, ladder.Costs[first], 9);
            var got = ladder.StepsAfter(first);
            var gotCost = Curve[first].Budget;
            var reaching = Curve[first].Survival;
            double total = gotCost;
            foreach (var step in got)
            {
                total += reaching * step;
                reaching = Curve[ladder.IndexOf(step)].Survival;
            }

            Assert.Equal(cost, total, 9);
            Assert.Equal(steps.Length, got.Length);
        }
    }

    [Fact]
    public void The_cheapest_ladder_is_not_always_the_first_budget_that_meets_the_target()
    {
        // After 200 (S 0.5) at a 0.5 target the first step that meets it is 400 (S 0.2), but going
        // to 500 (S 0.12) saves more on the later steps than it costs.
        var ladder = EscalationLadder.Build(Curve, 0.5);
        var (_, steps) = BruteForce(2, 0.5);

        Assert.Equal(steps, ladder.StepsAfter(2));
        Assert.Equal(500, ladder.StepsAfter(2)[0]);
    }

    [Fact]
    public void Where_no_budget_meets_the_target_the_steps_take_the_most_there_is()
    {
        (long, double)[] curve = [(100, 0.5), (200, 0.4), (300, 0.35)];

        var ladder = EscalationLadder.Build(curve, 0.1);

        Assert.Equal([300, 300, 300], ladder.StepsAfter(0));
        Assert.Equal(100 + (0.5 * 300) + (0.35 * 300 * 2), ladder.Costs[0], 9);
    }

    [Fact]
    public void Without_retries_the_first_budget_costs_only_itself()
    {
        var ladder = EscalationLadder.Build(Curve, 0.5, retryShare: 0);

        Assert.Equal(Curve.Select(c => (double)c.Budget), ladder.Costs);
    }

    [Fact]
    public void The_allocation_weighs_each_first_budget_with_its_ladder()
    {
        // Alone, with the ladder's cost, the type's first budget is where budget plus expected
        // retries is least among those meeting the target, not the smallest meeting it.
        var ladder = EscalationLadder.Build(Curve, 0.5);
        var plain = TierAllocation.Allocate([new AllocationItem(1.0, Curve)], 0, 0.5);
        var withLadder = TierAllocation.Allocate([new AllocationItem(1.0, Curve, ladder.Costs)], 0, 0.5);

        var best = Enumerable.Range(0, Curve.Length).Where(j => Curve[j].Survival <= 0.5).MinBy(j => ladder.Costs[j]);
        Assert.Equal(200, plain[0]);
        Assert.Equal(Curve[best].Budget, withLadder[0]);
        Assert.NotEqual(plain[0], withLadder[0]);
    }
}
