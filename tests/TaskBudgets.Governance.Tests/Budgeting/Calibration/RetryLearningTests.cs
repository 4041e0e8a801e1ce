using TaskBudgets.Governance.Budgeting.Calibration;

namespace TaskBudgets.Governance.Tests.Budgeting.Calibration;

/// <summary>A retry after a truncation is the continuation of one task (delayed entry), not a new call.</summary>
public class RetryLearningTests
{
    private static readonly TimeSpan HalfLife = TimeSpan.FromDays(1);

    private static CalibrationSample Done(long used, long granted, long previous = 0) =>
        new(used, used + 50, granted, false, false, null, previous > 0 ? 2 : 1, previous);

    private static CalibrationSample Cut(long granted, long previous = 0) =>
        new(granted, granted + 50, granted, true, false, null, previous > 0 ? 2 : 1, previous);

    /// <summary>
    /// Five tasks: A needs 100 and B 300 (both complete at once); C and D are truncated at 200 and
    /// complete on attempt 2 at 400 and 1,000; E is truncated at 200 and never retried.
    /// </summary>
    private static CalibrationStats FiveTasks()
    {
        var t0 = 1_700_000_000_000L;
        var stats = new CalibrationStats(t0);
        stats.Add(Done(100, 200), t0, HalfLife);
        stats.Add(Done(300, 800), t0, HalfLife);
        stats.Add(Cut(200), t0, HalfLife);
        stats.Add(Done(400, 800, previous: 200), t0, HalfLife);
        stats.Add(Cut(200), t0, HalfLife);
        stats.Add(Done(1_000, 1_600, previous: 200), t0, HalfLife);
        stats.Add(Cut(200), t0, HalfLife);
        return stats;
    }

    [Fact]
    public void A_task_truncated_then_completed_counts_once_at_its_need()
    {
        var stats = FiveTasks();
        var curve = new SurvivalCurve(stats.Reasoning, 100_000);

        // Product-limit by hand over the five tasks: at 100, 1 of 5 at risk completes (S = 4/5);
        // C, D, E leave at 200 as censored, C and D come back above 200 as their retries; at 300,
        // B, C', D' are at risk (S = 4/5 x 2/3); at 400, C', D' (x 1/2); at 1,000, D' (x 0).
        Assert.Equal(5, curve.Weight, 9);
        Assert.Equal(0.8, curve.Survival(150), 9);
        Assert.Equal(0.8, curve.Survival(250), 9);
        Assert.Equal(0.8 * 2 / 3, curve.Survival(350), 9);
        Assert.Equal(0.8 * 2 / 3 / 2, curve.Survival(700), 9);
        Assert.Equal(0.0, curve.Survival(2_000), 9);

        // Tasks, not calls: the retries are kept apart.
        Assert.Equal(5, stats.Calls, 9);
        Assert.Equal(3, stats.Truncations, 9);
        Assert.Equal(2, stats.Retries, 9);
        Assert.Equal(0, stats.RetryTruncations, 9);
    }

    [Fact]
    public void A_hint_adjusted_sketch_moves_the_entries_with_their_calls()
    {
        var sketch = new UsageSketch();
        sketch.AddCensored(1_000, 1);
        sketch.AddCompleted(3_000, 1);
        sketch.AddEntry(1_000, 3_000, 1);
        sketch.AddCompleted(500, 1);

        var halved = new UsageSketch();
        halved.MergeScaled(sketch, 2.0);
        var curve = new SurvivalCurve(halved, 100_000);

        // Two tasks: one needs 250, the other (truncated at 500, then done at 1,500) 1,500.
        Assert.Equal(2, curve.Weight, 9);
        Assert.Equal(0.5, curve.Survival(1_000), 9);
        Assert.Equal(0.0, curve.Survival(1_600), 9);
        Assert.Equal(1.0, halved.EnteredWeight, 9);
    }

    [Fact]
    public void The_stored_format_keeps_the_entries_and_retry_counts()
    {
        var stats = FiveTasks();
        stats.Add(Cut(900, previous: 300), 1_700_000_000_000L, HalfLife);

        var copy = CalibrationStats.Deserialize(stats.Serialize());

        Assert.Equal(5, stats.Serialize()[0]);
        Assert.Equal(stats.Calls, copy.Calls);
        Assert.Equal(stats.Retries, copy.Retries);
        Assert.Equal(stats.RetryTruncations, copy.RetryTruncations);
        for (var i = 0; i < UsageSketch.BinCount; i++)
        {
            Assert.Equal(stats.Reasoning.EnteredAt(i), copy.Reasoning.EnteredAt(i));
            Assert.Equal(stats.Unhinted.EnteredAt(i), copy.Unhinted.EnteredAt(i));
        }

        var before = new SurvivalCurve(stats.Reasoning, 100_000);
        var after = new SurvivalCurve(copy.Reasoning, 100_000);
        foreach (var budget in (long[])[150, 350, 700, 950])
        {
            Assert.Equal(before.Survival(budget), after.Survival(budget));
        }
    }

    [Fact]
    public void Format_2_statistics_are_read_as_first_attempts()
    {
        // Format 2 as the service wrote it before retries: no entries, no retry counts.
        using var stream = new MemoryStream();
        using (var w = new BinaryWriter(stream))
        {
            w.Write((byte)2);
            w.Write(1_700_000_000_000L);
            foreach (var v in (double[])[3, 1, 0, 2_600, 6_000, 0, 0, 0, 0, 0])
            {
                w.Write(v);
            }

            void Sketch((long Value, double Done, double Cut)[] bins)
            {
                w.Write(bins.Length);
                foreach (var (value, done, cut) in bins)
                {
                    w.Write((ushort)UsageSketch.IndexOf(value));
                    w.Write(done);
                    w.Write(cut);
                }
            }

            Sketch([(100, 1, 0), (500, 1, 0), (2_000, 0, 1)]);
            Sketch([(150, 1, 0), (550, 1, 0)]);
            Sketch([(100, 1, 0), (500, 1, 0), (2_000, 0, 1)]);
            for (var b = 0; b < CalibrationStats.HintBands; b++)
            {
                w.Write(0.0);
                w.Write(0.0);
                Sketch([]);
            }
        }

        var stats = CalibrationStats.Deserialize(stream.ToArray());

        Assert.Equal(3, stats.Calls);
        Assert.Equal(1, stats.Truncations);
        Assert.Equal(0, stats.Retries);
        Assert.Equal(0, stats.Reasoning.EnteredWeight);
        var curve = new SurvivalCurve(stats.Reasoning, 100_000);
        Assert.Equal(3, curve.Weight, 9);
        Assert.Equal(1.0 / 3, curve.Survival(1_000), 9);
        Assert.Equal(1.0, stats.Output.CompletedAt(UsageSketch.IndexOf(550)));
    }
}
