using TaskBudgets.Governance.Budgeting.Calibration;

namespace TaskBudgets.Governance.Tests.Budgeting.Calibration;

public class CensoredEstimatorTests
{
    /// <summary>
    /// Calls get one of two budgets at random; a call whose need passes its budget is truncated
    /// at the budget. The data is what the service sees; the needs are the truth it estimates.
    /// </summary>
    private static (UsageSketch Sketch, long[] Needs) Observe(long smallBudget, long largeBudget, int seed)
    {
        var needs = UsageSketchTests.LogNormal(40_000, 1_500, 0.8, seed);
        var random = new Random(seed + 100);
        var sketch = new UsageSketch();
        foreach (var need in needs)
        {
            var budget = random.NextDouble() < 0.5 ? smallBudget : largeBudget;
            if (need > budget)
            {
                sketch.AddCensored(budget, 1.0);
            }
            else
            {
                sketch.AddCompleted(need, 1.0);
            }
        }

        return (sketch, needs);
    }

    [Fact]
    public void Truncated_calls_raise_the_estimate_above_their_budget_where_the_naive_one_stops_at_it()
    {
        const long B = 2_000;
        var (sketch, needs) = Observe(B, 50_000, seed: 11);
        var curve = new SurvivalCurve(sketch, 100_000);
        var truth = needs.Order().ElementAt((int)(0.9 * needs.Length));

        var naive = sketch.NaiveQuantile(0.9);
        var censored = curve.Quantile(0.9);

        Assert.True(censored > naive, $"censored {censored} > naive {naive}");
        Assert.True(censored > B, $"censored {censored} > B {B}");
        Assert.InRange(censored, truth * 0.93, truth * 1.07);
        Assert.InRange(curve.Survival(B), 0.28, 0.38); // P(need > 2000) of the log-normal is 0.36
    }

    [Fact]
    public void When_every_call_truncates_the_estimate_goes_to_the_rules_max_not_the_budget()
    {
        var sketch = new UsageSketch();
        for (var i = 0; i < 500; i++)
        {
            sketch.AddCensored(2_048, 1.0);
        }

        var curve = new SurvivalCurve(sketch, 16_384);
        Assert.InRange(sketch.NaiveQuantile(0.98), 2_048, 2_090);
        Assert.Equal(1.0, curve.Survival(8_000));
        Assert.Equal(16_384, curve.BudgetFor(0.02, 1_024, 16_384));
        Assert.Equal(0.0, curve.Survival(16_384));
        var median = curve.Percentile(0.5);
        Assert.True(median.Censored, "every call was truncated at 2,048: the median lies beyond it");
        Assert.InRange(median.Tokens, 2_048, 2_090);
    }

    [Fact]
    public void Calls_truncated_even_at_the_rules_max_stay_counted_as_truncated_there()
    {
        var sketch = new UsageSketch();
        for (var i = 0; i < 90; i++)
        {
            sketch.AddCompleted(3_000, 1.0);
        }

        for (var i = 0; i < 10; i++)
        {
            sketch.AddCensored(16_384, 1.0);
        }

        var curve = new SurvivalCurve(sketch, 16_384);
        Assert.Equal(0.1, curve.Survival(16_384), 6);
        Assert.Equal(16_384, curve.Quantile(0.95));
        Assert.Equal(new UsagePercentile(16_384, Censored: true), curve.Percentile(0.95));
        Assert.Equal(new UsagePercentile(16_384, Censored: true), curve.Percentile(0.99));
        var p90 = curve.Percentile(0.90);
        Assert.False(p90.Censored);
        Assert.InRange(p90.Tokens, 3_000, 3_060);
    }

    [Fact]
    public void The_escalation_ladder_follows_the_need_of_calls_that_passed_the_previous_budget()
    {
        var (sketch, needs) = Observe(2_000, 200_000, seed: 5);
        var curve = new SurvivalCurve(sketch, 200_000);
        var past = needs.Where(n => n > 2_000).Order().ToArray();
        var truth = past[(int)(0.9 * past.Length)];

        // The 90th percentile of the need of calls that needed more than 2,000: S(b) <= 0.1 * S(2000).
        var escalated = curve.BudgetFor(0.1 * curve.Survival(2_000), 2_000, 200_000);
        Assert.InRange(escalated, truth * 0.9, truth * 1.1);
    }
}
