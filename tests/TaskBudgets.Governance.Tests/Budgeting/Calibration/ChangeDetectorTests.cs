using TaskBudgets.Governance.Budgeting.Calibration;
using TaskBudgets.Governance.Policies;
using TaskBudgets.Policies;

namespace TaskBudgets.Governance.Tests.Budgeting.Calibration;

/// <summary>
/// The change test on synthetic streams, run the way a replica runs it: each call is granted the
/// calibrated base of the snapshot in force, settles, is tested against that snapshot and counted;
/// the snapshot is rebuilt every 200 calls.
/// </summary>
public class ChangeDetectorTests
{
    private static readonly DateTimeOffset Now = new(2026, 3, 10, 12, 0, 0, TimeSpan.Zero);

    private static readonly CalibrationKey Key = new("t", "work", "");

    private static readonly PolicySnapshot Policy = PolicyDocument.Parse("""
        models: []
        tiers:
          - name: t
            target_truncation_rate: 0.05
            rules:
              - task_type: "*"
                min_reasoning_tokens: 0
                default_reasoning_tokens: 1000
                max_reasoning_tokens: 100000
                max_output_tokens: 200000
              - task_type: work
                min_reasoning_tokens: 100
                default_reasoning_tokens: 8000
                max_reasoning_tokens: 100000
                max_output_tokens: 200000
                adaptive: true
                min_samples: 200
        orgs: []
        """).ToSnapshot(1);

    [Fact]
    public void A_stationary_stream_of_twenty_thousand_calls_raises_no_alarm()
    {
        var stream = new CallStream(seed: 11);
        stream.Run(3_000, factor: 1.0);

        var alarms = stream.Run(20_000, factor: 1.0);

        Assert.Empty(alarms);
    }

    [Theory]
    [InlineData(3.0, 300)]
    [InlineData(0.5, 500)]
    [InlineData(1.0 / 3, 300)]
    public void A_need_that_moves_is_detected_within_a_few_hundred_calls(double factor, int within)
    {
        var stream = new CallStream(seed: 12);
        Assert.Empty(stream.Run(3_000, factor: 1.0));

        var alarms = stream.Run(within, factor);

        Assert.NotEmpty(alarms);
    }

    [Fact]
    public void Retries_and_informative_hints_raise_no_alarm_on_a_stationary_stream()
    {
        // A hint that says much about the need, and every truncated call retried: both make a
        // call's usage differ from the key's overall curve without any change of need.
        var stream = new CallStream(seed: 13, hintCorrelation: 0.9, retries: true);
        stream.Run(3_000, factor: 1.0);

        var alarms = stream.Run(20_000, factor: 1.0);

        Assert.Empty(alarms);
    }

    [Fact]
    public void A_need_that_triples_is_detected_with_hints_and_retries_too()
    {
        var stream = new CallStream(seed: 14, hintCorrelation: 0.9, retries: true);
        Assert.Empty(stream.Run(3_000, factor: 1.0));

        var alarms = stream.Run(300, factor: 3.0);

        Assert.NotEmpty(alarms);
    }

    [Fact]
    public void Nothing_is_tested_against_a_reference_that_is_not_watched()
    {
        var detector = new ChangeDetector();
        var reference = new ChangeReference(null, 1000, 2000, Watched: false, 0);

        for (var i = 0; i < 1_000; i++)
        {
            Assert.False(detector.Observe(new CalibrationSample(50_000, 50_000, 4_000, true, true, null), reference));
        }

        Assert.Equal(0, detector.Level);
    }

    /// <summary>
    /// Calls of one key whose need is lognormal (median 2,000, sigma 0.7), times a factor; with
    /// <paramref name="hintCorrelation"/> each carries a complexity hint that correlated with its
    /// need, and with <paramref name="retries"/> a truncated call is retried once at the ladder's step.
    /// </summary>
    private sealed class CallStream(int seed, double? hintCorrelation = null, bool retries = false)
    {
        private readonly Random random = new(seed);
        private readonly CalibrationStats stats = new(Now.ToUnixTimeMilliseconds());
        private readonly ChangeDetector detector = new();
        private CalibrationSnapshot snapshot = CalibrationSnapshot.Empty;
        private int calls;

        /// <summary>Runs <paramref name="count"/> calls; the indexes (within them) of the calls that completed a detection.</summary>
        public List<int> Run(int count, double factor)
        {
            var rule = Policy.Tiers["t"].Rules["work"];
            var alarms = new List<int>();
            for (var i = 0; i < count; i++)
            {
                var calibrated = snapshot.Recommend("t", "work", rule);
                var z = Normal();
                double? hint = hintCorrelation is { } r ? 1.0 / (1.0 + Math.Exp(-1.702 * ((r * z) + (Math.Sqrt(1 - (r * r)) * Normal())))) : null;
                var hintFactor = calibrated.HintFactor(hint, 4.0);
                var granted = calibrated.Governs(rule) ? (long)(calibrated.BaseTokens * hintFactor) : rule.DefaultReasoningTokens;
                var need = (long)Math.Round(factor * 2_000 * Math.Exp(0.7 * z));
                var sample = Settle(need, granted, hint, attempt: 1, previous: 0);
                if (detector.Observe(sample, snapshot.Reference(Key)))
                {
                    alarms.Add(i);
                }

                stats.Add(sample, Now.ToUnixTimeMilliseconds(), TimeSpan.FromDays(1));
                if (retries && sample.Truncated && calibrated.Governs(rule))
                {
                    var retry = Settle(need, Math.Max(granted + 1, (long)(calibrated.RetryTokens(2) * hintFactor)), hint, attempt: 2, previous: granted);
                    if (detector.Observe(retry, snapshot.Reference(Key)))
                    {
                        alarms.Add(i);
                    }

                    stats.Add(retry, Now.ToUnixTimeMilliseconds(), TimeSpan.FromDays(1));
                }

                if (++calls % 200 == 0)
                {
                    snapshot = CalibrationSnapshot.Build(Policy.Version, Policy.Tiers, new Dictionary<CalibrationKey, CalibrationStats> { [Key] = stats }, Now, CalibrationSettings.Default);
                }
            }

            return alarms;
        }

        private static CalibrationSample Settle(long need, long granted, double? hint, int attempt, long previous)
        {
            var used = Math.Min(need, granted);
            return new CalibrationSample(used, used + 100, granted, need > granted, false, hint, attempt, previous);
        }

        private double Normal() => Math.Sqrt(-2.0 * Math.Log(1.0 - random.NextDouble())) * Math.Cos(2.0 * Math.PI * random.NextDouble());
    }
}
