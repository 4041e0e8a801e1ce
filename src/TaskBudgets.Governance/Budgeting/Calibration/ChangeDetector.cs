namespace TaskBudgets.Governance.Budgeting.Calibration;

/// <summary>
/// What the calibration in force says one key's calls should look like if nothing changed: its
/// curve of reasoning used in the base's terms, as the budgets are (divided by what each call's
/// phase and input size, and hint where the key has learned what its hints mean, multiplied it by), its median and 90th percentile, and the change epoch it was built with. A value
/// type, looked up once per settled call.
/// </summary>
/// <param name="Used">P(need &gt; b) of the key's calls; null when there is nothing to test against.</param>
/// <param name="Watched">
/// The key is calibrated (an adaptive rule with its min_samples), not relearning after a change,
/// has <see cref="ChangeDetector.MinReferenceCalls"/> calls behind it, and its median and 90th
/// percentile are placed by the data: a test against it means something.
/// </param>
/// <param name="Epoch">The number of changes the merged statistics have seen.</param>
public readonly record struct ChangeReference(SurvivalCurve? Used, long Median, long P90, bool Watched, long Epoch)
{
    /// <summary>
    /// The key's hint band factors when <see cref="Used"/> is hint-adjusted (default: none): a
    /// hinted call is tested at its usage and budget divided by its band's factor, the need it
    /// would have at the average hint. Tested as they came, a call whose hint says "hard" looks
    /// like a change of need to the tail test.
    /// </summary>
    public System.Collections.Immutable.ImmutableArray<double> HintFactors { get; init; }
}

/// <summary>
/// A sequential test of one calibration key: has what its calls need moved away from what the
/// calibration in force says? Three Bernoulli CUSUMs on outcomes whose probability under "no
/// change" the curve gives exactly, call by call, at the call's own granted budget:
/// <list type="bullet">
/// <item>up, tail: the call was truncated or used more than the 90th percentile, p0 = S(min(granted, p90));</item>
/// <item>up, body: truncated or used more than the median, p0 = S(min(granted, median));</item>
/// <item>down: completed using less than the median, p0 = 1 - S(min(granted, median)).</item>
/// </list>
/// Each adds the log-likelihood ratio of an alternative whose odds are <see cref="TailOdds"/>
/// (tail) or <see cref="BodyOdds"/> (body, down) times p0's, and alarms past the threshold. It
/// counts calls, not time, so it follows a change as fast whatever the half-life. Not
/// thread-safe (a replica's entry lock guards it); allocation-free.
/// </summary>
/// <remarks>
/// The odds ratios leave room for an estimated p0 that is off: the tail test drifts toward an
/// alarm only once the true rate is about 1.7x p0, the body tests once it is about 0.085 above
/// it. <see cref="DefaultThreshold"/> is chosen for about one false alarm per 10^6 calls per test
/// on a stationary key (docs/adaptive-budgets.md, "Changes of need", says how), while a need that
/// triples or halves still alarms within tens to a hundred calls.
/// </remarks>
public sealed class ChangeDetector
{
    /// <summary>The alternative's odds over the reference's, for the tail test.</summary>
    public const double TailOdds = 3.0;

    /// <summary>The alternative's odds over the reference's, for the median tests.</summary>
    public const double BodyOdds = 2.0;

    /// <summary>
    /// Fewest calls behind a reference before it is tested against: with fewer, its percentiles
    /// are too uncertain (and a key that just became calibrated is still settling).
    /// </summary>
    public const double MinReferenceCalls = 1_000;

    /// <summary>The log-likelihood ratio at which a test alarms (Calibration:ChangeThreshold).</summary>
    public const double DefaultThreshold = 12.0;

    private readonly double threshold;
    private double upTail;
    private double upBody;
    private double down;

    public ChangeDetector(double threshold = DefaultThreshold)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(threshold);
        this.threshold = threshold;
    }

    /// <summary>The statistic of the test nearest to alarming, 0..threshold.</summary>
    public double Level => Math.Max(upTail, Math.Max(upBody, down));

    /// <summary>Counts one settled call; true when it completes the evidence of a change (and the tests restart).</summary>
    public bool Observe(in CalibrationSample sample, in ChangeReference reference)
    {
        // A retry is known to need more than the budget it continues, and a deep call given the
        // rule's max has no base-terms budget: neither is a draw from the curve.
        if (!reference.Watched || reference.Used is not { } curve || sample.Continues || !(sample.FeatureFactor > 0))
        {
            return false;
        }

        // The curve is in the base's terms: so is the call, divided by what its features multiplied its budget by.
        var factor = sample.Complexity is { } hint && double.IsFinite(hint) && !reference.HintFactors.IsDefaultOrEmpty
            ? reference.HintFactors[CalibrationStats.Band(hint)] * sample.FeatureFactor
            : sample.FeatureFactor;

        // A report without a grant reserved nothing: only what it used is known.
        var granted = sample.ReasoningGranted > 0 ? (long)(sample.ReasoningGranted / factor) : long.MaxValue;
        var used = (long)(sample.ReasoningUsed / factor);
        var truncated = sample.Truncated;

        var tailAt = Math.Min(granted, reference.P90);
        upTail = Step(upTail, truncated || used > tailAt, curve.Survival(tailAt), TailOdds);

        var bodyAt = Math.Min(granted, reference.Median);
        var above = curve.Survival(bodyAt);
        upBody = Step(upBody, truncated || used > bodyAt, above, BodyOdds);
        down = Step(down, !truncated && used <= bodyAt, 1.0 - above, BodyOdds);

        if (Level <= threshold)
        {
            return false;
        }

        Reset();
        return true;
    }

    /// <summary>Forgets the evidence gathered (after a change, detected here or adopted from another replica).</summary>
    public void Reset()
    {
        upTail = 0;
        upBody = 0;
        down = 0;
    }

    /// <summary>
    /// One CUSUM step: max(0, s + log(p1/p0)) on the event, log((1-p1)/(1-p0)) without it, where
    /// p1 has <paramref name="odds"/> times p0's odds. A p0 of 0 or 1 says nothing can be learned.
    /// </summary>
    private static double Step(double s, bool happened, double p0, double odds)
    {
        if (p0 <= 1e-6 || p0 >= 1 - 1e-6)
        {
            return s;
        }

        var spread = 1.0 - p0 + (odds * p0);
        var increment = happened ? Math.Log(odds / spread) : -Math.Log(spread);
        return Math.Max(0, s + increment);
    }
}
