using TaskBudgets.Governance.Budgeting.Calibration;

namespace TaskBudgets.Governance.Tests.Budgeting.Calibration;

public class UsageSketchTests
{
    private static readonly TimeSpan HalfLife = TimeSpan.FromHours(1);

    /// <summary>Log-normal needs: most calls modest, a long tail, as reasoning usage tends to be.</summary>
    public static long[] LogNormal(int count, double median, double sigma, int seed)
    {
        var random = new Random(seed);
        var values = new long[count];
        for (var i = 0; i < count; i++)
        {
            var normal = Math.Sqrt(-2.0 * Math.Log(1.0 - random.NextDouble())) * Math.Cos(2.0 * Math.PI * random.NextDouble());
            values[i] = Math.Max(1, (long)Math.Round(median * Math.Exp(sigma * normal)));
        }

        return values;
    }

    private static long Exact(long[] values, double q)
    {
        var sorted = values.Order().ToArray();
        return sorted[(int)Math.Ceiling(q * sorted.Length) - 1];
    }

    [Theory]
    [InlineData(0.5)]
    [InlineData(0.9)]
    [InlineData(0.99)]
    [InlineData(0.999)]
    public void Quantiles_are_within_the_sketchs_relative_accuracy_of_the_exact_ones(double q)
    {
        var values = LogNormal(50_000, 3_000, 1.0, seed: 7);
        var sketch = new UsageSketch();
        foreach (var v in values)
        {
            sketch.AddCompleted(v, 1.0);
        }

        var exact = Exact(values, q);
        var estimate = sketch.NaiveQuantile(q);
        Assert.InRange(estimate, exact, (long)Math.Ceiling(exact * UsageSketch.Gamma) + 1);

        // Without truncations the product-limit estimate is the same quantile.
        Assert.Equal(estimate, new SurvivalCurve(sketch, 100_000_000).Quantile(q));
    }

    [Fact]
    public void Merging_two_sketches_gives_the_sketch_of_the_union()
    {
        var a = LogNormal(5_000, 800, 0.7, seed: 1);
        var b = LogNormal(7_000, 5_000, 1.3, seed: 2);
        var left = new UsageSketch();
        var right = new UsageSketch();
        var union = new UsageSketch();
        foreach (var v in a)
        {
            left.AddCompleted(v, 1.0);
            union.AddCompleted(v, 1.0);
        }

        foreach (var v in b)
        {
            right.AddCensored(v, 2.0);
            union.AddCensored(v, 2.0);
        }

        var merged = left.Clone();
        merged.Merge(right);
        for (var i = 0; i < UsageSketch.BinCount; i++)
        {
            Assert.Equal(union.CompletedAt(i), merged.CompletedAt(i), 9);
            Assert.Equal(union.CensoredAt(i), merged.CensoredAt(i), 9);
        }

        Assert.Equal(union.TotalWeight, merged.TotalWeight, 6);
    }

    [Fact]
    public void A_call_weighs_half_after_one_half_life_and_recent_calls_dominate_the_quantiles()
    {
        var start = new DateTimeOffset(2026, 3, 10, 12, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();
        var stats = new CalibrationStats(start);
        for (var i = 0; i < 1_000; i++)
        {
            stats.Add(new CalibrationSample(10_000, 11_000, 16_000, false, false, null), start, HalfLife);
        }

        Assert.Equal(1_000, stats.Samples(start, HalfLife), 6);
        Assert.Equal(500, stats.Samples(start + (long)HalfLife.TotalMilliseconds, HalfLife), 6);

        // Ten half-lives later, 1,000 small calls outweigh the old large ones a thousand to one.
        var later = start + (10 * (long)HalfLife.TotalMilliseconds);
        for (var i = 0; i < 1_000; i++)
        {
            stats.Add(new CalibrationSample(500, 900, 16_000, false, false, null), later, HalfLife);
        }

        Assert.Equal(1_000 + (1_000 / 1024.0), stats.Samples(later, HalfLife), 6);
        Assert.InRange(new SurvivalCurve(stats.Reasoning, 32_768).Quantile(0.99), 500, 520);
    }

    [Fact]
    public void Merging_statistics_with_different_landmarks_decays_each_by_its_own_age()
    {
        var t0 = 1_000_000_000_000L;
        var hour = (long)HalfLife.TotalMilliseconds;
        var old = new CalibrationStats(t0);
        old.Add(new CalibrationSample(100, 200, 1_000, false, false, null), t0, HalfLife);
        var recent = new CalibrationStats(t0 + (50 * hour));
        recent.Add(new CalibrationSample(100, 200, 1_000, true, false, null), t0 + (50 * hour), HalfLife);

        var merged = old.Clone(HalfLife);
        merged.Merge(recent, HalfLife);
        Assert.Equal(1.0 + Math.Pow(2, -50), merged.Samples(t0 + (50 * hour), HalfLife), 9);
        Assert.Equal(1.0, merged.Truncations * merged.Decay(t0 + (50 * hour), HalfLife), 9);
    }

    [Fact]
    public void Statistics_survive_a_serialisation_round_trip()
    {
        var t0 = 1_700_000_000_000L;
        var stats = new CalibrationStats(t0);
        var values = LogNormal(2_000, 2_000, 0.9, seed: 3);
        for (var i = 0; i < values.Length; i++)
        {
            stats.Add(new CalibrationSample(values[i], values[i] + 300, 4_096, values[i] > 4_096, i % 17 == 0, (i % 10) / 10.0), t0 + i, HalfLife);
        }

        var copy = CalibrationStats.Deserialize(stats.Serialize());
        Assert.Equal(stats.LandmarkMs, copy.LandmarkMs);
        Assert.Equal(stats.Calls, copy.Calls);
        Assert.Equal(stats.Truncations, copy.Truncations);
        Assert.Equal(stats.OverGrants, copy.OverGrants);
        Assert.Equal(stats.HintCY, copy.HintCY);
        Assert.Equal(stats.HintFactors(50, 4), copy.HintFactors(50, 4));
        var adjusted = stats.BaseUsage(stats.HintFactors(50, 4)!);
        var adjustedCopy = copy.BaseUsage(copy.HintFactors(50, 4)!);
        for (var i = 0; i < UsageSketch.BinCount; i++)
        {
            Assert.Equal(adjusted.CompletedAt(i), adjustedCopy.CompletedAt(i));
            Assert.Equal(adjusted.CensoredAt(i), adjustedCopy.CensoredAt(i));
            Assert.Equal(stats.Reasoning.CompletedAt(i), copy.Reasoning.CompletedAt(i));
            Assert.Equal(stats.Reasoning.CensoredAt(i), copy.Reasoning.CensoredAt(i));
            Assert.Equal(stats.Output.CompletedAt(i), copy.Output.CompletedAt(i));
        }
    }

    [Theory]
    [InlineData(new byte[0])]
    [InlineData(new byte[] { 9, 0, 0 })]
    [InlineData(new byte[] { 1, 0, 0, 0, 0, 0, 0, 0, 0, 1 })]
    public void Bytes_that_are_not_statistics_are_a_format_error(byte[] bytes) =>
        Assert.Throws<FormatException>(() => CalibrationStats.Deserialize(bytes));
}
