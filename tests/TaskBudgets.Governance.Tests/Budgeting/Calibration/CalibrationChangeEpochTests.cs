using TaskBudgets.Governance.Budgeting.Calibration;

namespace TaskBudgets.Governance.Tests.Budgeting.Calibration;

/// <summary>Change epochs in the statistics: what a change drops, merging rows of different epochs, and the stored format.</summary>
public class CalibrationChangeEpochTests
{
    private static readonly long Now = new DateTimeOffset(2026, 3, 10, 12, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();

    private static readonly TimeSpan HalfLife = TimeSpan.FromDays(1);

    private static CalibrationStats Stats(int count, long used, long epoch = 0, long epochAtMs = 0)
    {
        var stats = new CalibrationStats(Now);
        stats.StartEpoch(epoch, epochAtMs);
        for (var i = 0; i < count; i++)
        {
            stats.Add(new CalibrationSample(used + (i % 10), used + 100, 10 * used, false, false, null), Now, HalfLife);
        }

        return stats;
    }

    [Fact]
    public void A_change_drops_what_came_before_and_counts_the_calls_since()
    {
        var stats = Stats(5_000, 1_000);

        stats.StartEpoch(1, Now);
        for (var i = 0; i < 20; i++)
        {
            stats.Add(new CalibrationSample(3_000, 3_100, 10_000, false, false, null), Now, HalfLife);
        }

        Assert.Equal(20, stats.Samples(Now, HalfLife), 6);
        Assert.Equal(5_020, stats.TrafficSamples(Now, HalfLife), 6);
        Assert.Equal(3_000, stats.Reasoning.NaiveQuantile(0.5), 3_000 * UsageSketch.Gamma - 3_000);
        Assert.Equal(1, stats.ChangeEpoch);
        Assert.Equal(Now, stats.ChangeAtMs);
        Assert.Equal(20, stats.CallsSinceChange);
    }

    [Fact]
    public void An_epoch_that_is_not_later_changes_nothing()
    {
        var stats = Stats(500, 1_000, epoch: 2, epochAtMs: Now);

        stats.StartEpoch(1, Now + 1_000);
        stats.StartEpoch(2, Now);

        Assert.Equal(500, stats.Samples(Now, HalfLife), 6);
        Assert.Equal(500, stats.CallsSinceChange);
    }

    [Fact]
    public void A_lagging_replicas_row_is_left_out_of_the_merge_and_adds_no_calls_since_the_change()
    {
        var lagging = Stats(4_000, 1_000);
        var changed = Stats(50, 3_000, epoch: 1, epochAtMs: Now);

        var merged = CalibrationStats.Combine([lagging, changed], HalfLife)!;

        Assert.Equal(50, merged.Samples(Now, HalfLife), 6);

        // Its calls still count as the key's traffic (its share of the tier's calls).
        Assert.Equal(4_050, merged.TrafficSamples(Now, HalfLife), 6);
        Assert.Equal(1, merged.ChangeEpoch);
        Assert.Equal(50, merged.CallsSinceChange);
    }

    [Fact]
    public void Merging_rows_of_different_epochs_gives_the_same_statistics_in_any_order()
    {
        CalibrationStats[] rows =
        [
            Stats(3_000, 1_000),
            Stats(400, 2_000, epoch: 1, epochAtMs: Now - 60_000),
            Stats(80, 3_000, epoch: 2, epochAtMs: Now - 1_000),
            Stats(60, 3_000, epoch: 2, epochAtMs: Now - 1_000),
        ];
        var orders = new[] { new[] { 0, 1, 2, 3 }, [3, 2, 1, 0], [2, 0, 3, 1], [1, 3, 0, 2] };

        var results = orders.Select(order => CalibrationStats.Combine(order.Select(i => rows[i]), HalfLife)!).ToList();

        foreach (var r in results)
        {
            Assert.Equal(2, r.ChangeEpoch);
            Assert.Equal(140, r.CallsSinceChange);
            Assert.Equal(140, r.Samples(Now, HalfLife), 6);
            Assert.Equal(results[0].Reasoning.NaiveQuantile(0.5), r.Reasoning.NaiveQuantile(0.5));
            Assert.Equal(results[0].ReasoningUsed, r.ReasoningUsed, 6);
        }
    }

    [Fact]
    public void The_epoch_is_stored_and_statistics_of_the_format_before_it_read_as_having_seen_no_change()
    {
        var stats = Stats(300, 1_000);
        stats.StartEpoch(3, Now - 5_000);
        stats.Add(new CalibrationSample(1_000, 1_100, 4_000, false, false, null), Now, HalfLife);

        var bytes = stats.Serialize();
        var read = CalibrationStats.Deserialize(bytes);

        Assert.Equal(5, bytes[0]);
        Assert.Equal(3, read.ChangeEpoch);
        Assert.Equal(Now - 5_000, read.ChangeAtMs);
        Assert.Equal(1, read.CallsSinceChange);
        Assert.Equal(stats.Samples(Now, HalfLife), read.Samples(Now, HalfLife), 9);
        Assert.Equal(301, read.TrafficSamples(Now, HalfLife), 9);

        // Version 4: without the phases' and input bands' sketches (eight empty ones: a count of 0 each).
        var withoutFeatures = bytes[..^32];
        withoutFeatures[0] = 4;
        Assert.Equal(3, CalibrationStats.Deserialize(withoutFeatures).ChangeEpoch);

        // Version 3: the same layout without the epoch's four trailing fields.
        var older = bytes[..^64];
        older[0] = 3;
        var fromOlder = CalibrationStats.Deserialize(older);
        Assert.Equal(0, fromOlder.ChangeEpoch);
        Assert.Equal(0, fromOlder.CallsSinceChange);
        Assert.Equal(stats.Samples(Now, HalfLife), fromOlder.Samples(Now, HalfLife), 9);
    }
}
