using TaskBudgets.Governance.Budgeting.Calibration;

namespace TaskBudgets.Governance.Tests.Budgeting.Calibration;

public class TierAllocationTests
{
    private static SurvivalCurve Curve(double median, double sigma, int seed, long max)
    {
        var sketch = new UsageSketch();
        foreach (var v in UsageSketchTests.LogNormal(30_000, median, sigma, seed))
        {
            sketch.AddCompleted(v, 1.0);
        }

        return new SurvivalCurve(sketch, max);
    }

    [Theory]
    [InlineData(0.02)]
    [InlineData(0.05)]
    public void The_optimised_allocation_meets_the_target_with_fewer_reserved_tokens_than_one_percentile_for_all(double target)
    {
        const long Max = 1_000_000;
        var types = new[]
        {
            (Weight: 0.6, Curve: Curve(400, 0.3, 1, Max)),     // cheap and predictable
            (Weight: 0.3, Curve: Curve(2_000, 1.4, 2, Max)),   // long, expensive tail
            (Weight: 0.1, Curve: Curve(6_000, 0.6, 3, Max)),
        };

        var uniform = types.Select(t => t.Curve.BudgetFor(target, 0, Max)).ToArray();
        var optimised = TierAllocation.Allocate(types.Select(t => new AllocationItem(t.Weight, t.Curve.Candidates(0, Max))).ToList(), 0, target);

        double Reserved(long[] b) => types.Select((t, i) => t.Weight * b[i]).Sum();
        double Truncated(long[] b) => types.Select((t, i) => t.Weight * t.Curve.Survival(b[i])).Sum();

        Assert.True(Truncated(uniform) <= target + 1e-9);
        Assert.True(Truncated(optimised) <= target + 1e-9, $"optimised truncates {Truncated(optimised):P2}");
        Assert.True(Reserved(optimised) < 0.9 * Reserved(uniform), $"optimised reserves {Reserved(optimised):F0} per call, uniform {Reserved(uniform):F0}");

        // The long-tailed type truncates more than the target, the cheap one less.
        Assert.True(types[1].Curve.Survival(optimised[1]) > target);
        Assert.True(types[0].Curve.Survival(optimised[0]) < target);
    }

    [Fact]
    public void Fixed_task_types_use_up_their_share_of_the_target_first()
    {
        var curve = Curve(1_000, 0.5, 4, 100_000);
        var alone = TierAllocation.Allocate([new AllocationItem(0.5, curve.Candidates(0, 100_000))], 0, 0.05);
        var squeezed = TierAllocation.Allocate([new AllocationItem(0.5, curve.Candidates(0, 100_000))], 0.04, 0.05);
        Assert.True(squeezed[0] > alone[0]);
        Assert.True(0.04 + (0.5 * curve.Survival(squeezed[0])) <= 0.05 + 1e-9);
    }

    [Fact]
    public void A_type_that_truncates_even_at_its_max_gains_nothing_from_more_tokens_so_the_optimiser_spends_none()
    {
        var sketch = new UsageSketch();
        for (var i = 0; i < 100; i++)
        {
            sketch.AddCensored(8_192, 1.0);
        }

        var curve = new SurvivalCurve(sketch, 8_192);
        var budgets = TierAllocation.Allocate([new AllocationItem(1.0, curve.Candidates(1_024, 8_192))], 0, 0.02);

        // (CalibrationSnapshot keeps such a type at its max instead: with no call completed there
        // is nothing to size it from; see CalibrationSnapshotTests.)
        Assert.Equal(1_024, budgets[0]);
    }

    [Fact]
    public void The_last_step_stops_at_the_cheapest_budget_that_meets_the_target_not_at_the_next_hull_point()
    {
        // The hull goes from 1,000 straight to 3,000 (2,000 lies above that chord), but 2,000
        // already meets the target: the tier need not go to 3% when 8.5% is its target.
        (long, double)[] candidates = [(1_000, 0.10), (2_000, 0.08), (3_000, 0.03), (4_000, 0.02)];
        Assert.DoesNotContain((2_000L, 0.08), TierAllocation.LowerHull(candidates));

        Assert.Equal(2_000, TierAllocation.Allocate([new AllocationItem(1.0, candidates)], 0, 0.085)[0]);
        Assert.Equal(3_000, TierAllocation.Allocate([new AllocationItem(1.0, candidates)], 0, 0.075)[0]);

        // Two types: only the one that moved last shortens its step, within what the other left.
        (long, double)[] other = [(500, 0.01), (600, 0.0)];
        var both = TierAllocation.Allocate([new AllocationItem(0.5, candidates), new AllocationItem(0.5, other)], 0, 0.045);
        Assert.Equal(new long[] { 2_000, 600 }, both);
    }

    [Fact]
    public void The_lower_hull_only_keeps_budgets_where_each_step_saves_less_per_token_than_the_last()
    {
        var hull = TierAllocation.LowerHull([(0, 1.0), (10, 0.95), (20, 0.5), (30, 0.45), (40, 0.1), (50, 0.0), (60, 0.0)]);
        Assert.Equal([(0L, 1.0), (20L, 0.5), (40L, 0.1), (50L, 0.0)], hull);
    }
}
