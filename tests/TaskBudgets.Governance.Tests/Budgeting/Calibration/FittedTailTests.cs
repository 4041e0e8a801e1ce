using TaskBudgets.Governance.Budgeting.Calibration;

namespace TaskBudgets.Governance.Tests.Budgeting.Calibration;

/// <summary>
/// Past the point where fewer than <see cref="SurvivalCurve.TailSupport"/> calls remain at risk,
/// the curve a budget is chosen from follows a power law fitted to its known part; the
/// percentiles reported stay the data's.
/// </summary>
public class FittedTailTests
{
    private const long RuleMax = 400_000;

    /// <summary>A heavy task type's calls (median 30,000), each granted <paramref name="budget"/>.</summary>
    private static (UsageSketch Sketch, long[] Needs) Granted(long budget, int seed)
    {
        var needs = UsageSketchTests.LogNormal(3_000, 30_000, 0.8, seed);
        var sketch = new UsageSketch();
        for (var i = 0; i < needs.Length; i++)
        {
            if (needs[i] > budget)
            {
                sketch.AddCensored(budget, 1.0);
            }
            else
            {
                sketch.AddCompleted(needs[i], 1.0);
            }
        }

        return (sketch, needs);
    }

    private static double TrueSurvival(long[] needs, long budget) => needs.Count(n => n > budget) / (double)needs.Length;

    [Fact]
    public void Past_the_budget_every_call_got_the_estimate_keeps_falling_instead_of_staying_flat()
    {
        const long B = 70_000;
        var (sketch, needs) = Granted(B, seed: 3);
        var curve = new SurvivalCurve(sketch, RuleMax);

        // The data alone cannot say where the ~15% truncated at B lie: flat up to the max.
        Assert.Equal(curve.ObservedSurvival(B * 21 / 20), curve.ObservedSurvival(2 * B));

        // The fitted tail falls, and overstates the lognormal's (whose slope steepens) rather than understating it.
        foreach (var budget in new long[] { 90_000, 140_000, 200_000 })
        {
            var truth = TrueSurvival(needs, budget);
            Assert.InRange(curve.Survival(budget), truth, 2.5 * truth);
        }

        Assert.True(curve.Survival(140_000) < curve.Survival(90_000));
        Assert.Equal(curve.ObservedSurvival(B), curve.Survival(B));
    }

    [Fact]
    public void The_tail_does_not_end_at_the_last_call_that_completed()
    {
        var needs = UsageSketchTests.LogNormal(400, 2_000, 1.0, seed: 9);
        var sketch = new UsageSketch();
        foreach (var need in needs)
        {
            sketch.AddCompleted(need, 1.0);
        }

        var curve = new SurvivalCurve(sketch, RuleMax);
        var beyond = (long)(needs.Max() * 1.2);

        Assert.Equal(0, curve.ObservedSurvival(beyond));
        Assert.InRange(curve.Survival(beyond), 1e-5, 10.0 / needs.Length);
    }

    [Fact]
    public void The_fitted_tail_never_falls_below_the_share_proven_to_need_more()
    {
        // 1,000 calls complete at 1,000..1,999 (a steep fit); 5 were truncated at 12,000 (a need past it
        // is proven), too few to place the tail.
        var sketch = new UsageSketch();
        for (var i = 0; i < 1_000; i++)
        {
            sketch.AddCompleted(1_000 + i, 1.0);
        }

        for (var i = 0; i < 5; i++)
        {
            sketch.AddCensored(12_000, 1.0);
        }

        var curve = new SurvivalCurve(sketch, RuleMax);

        // The fit from the steep body is far below 5 in 1,005 there.
        Assert.Equal(5 / 1_005.0, curve.Survival(11_000), 9);
    }

    [Fact]
    public void Percentiles_stay_what_the_data_places_not_the_fit()
    {
        const long B = 70_000;
        var (sketch, _) = Granted(B, seed: 3);
        var curve = new SurvivalCurve(sketch, RuleMax);

        var p95 = curve.Percentile(0.95);

        Assert.True(p95.Censored);
        Assert.InRange(p95.Tokens, B, B * 1.03);
        Assert.Equal(RuleMax, curve.Quantile(0.95));
    }

    [Fact]
    public void Where_the_known_part_is_too_short_to_fit_the_curve_is_the_datas()
    {
        // Every call truncated at the default: nothing below to fit a slope to.
        var sketch = new UsageSketch();
        for (var i = 0; i < 200; i++)
        {
            sketch.AddCensored(4_096, 1.0);
        }

        var curve = new SurvivalCurve(sketch, RuleMax);

        Assert.Equal(1.0, curve.Survival(8_000));
        Assert.Equal(curve.ObservedSurvival(8_000), curve.Survival(8_000));
    }
}
