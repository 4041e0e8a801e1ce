using System.ComponentModel.DataAnnotations;
using TaskBudgets.Governance.Budgeting.Calibration;

namespace TaskBudgets.Governance.Adaptive;

/// <summary>How replicas learn budgets from usage reports. Bound from the "Calibration" section.</summary>
public sealed class CalibrationOptions
{
    public const string Section = "Calibration";

    /// <summary>A reported call's weight halves every half-life, so recent behaviour weighs most. Default 1 day.</summary>
    [Range(typeof(TimeSpan), "00:01:00", "365.00:00:00")]
    public TimeSpan HalfLife { get; set; } = TimeSpan.FromDays(1);

    /// <summary>
    /// How often a replica writes what it learned to the database, reads the other replicas'
    /// and rebuilds the budgets it grants from. Default 10 s.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "01:00:00")]
    public TimeSpan SyncInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Budgets the allocation picks are multiplied by this, 1..2, before clamping to the rule: a
    /// margin over what the calls showed. Default 1.0: exploration
    /// (<see cref="ExplorationShare"/>) already probes above the budget, and a margin reserves
    /// more on every call than the target asks for.
    /// </summary>
    [Range(1.0, 2.0)]
    public double Headroom { get; set; } = 1.0;

    /// <summary>
    /// A replica's statistics not written for this long (it stopped, and its calls have decayed
    /// away) are deleted. Default 14 days; at least the half-life.
    /// </summary>
    [Range(typeof(TimeSpan), "00:01:00", "3650.00:00:00")]
    public TimeSpan Retention { get; set; } = TimeSpan.FromDays(14);

    /// <summary>
    /// Keep statistics per org as well as per tier, so an org with enough calls of its own is
    /// granted from them. Each org and task type costs memory (a few KB to ~30 KB) and a database
    /// row per replica: turn it off where there are many thousands of orgs. Default true.
    /// </summary>
    public bool PerOrg { get; set; } = true;

    /// <summary>Fewest hinted calls (decayed) before a complexity hint's learned effect is used. Default 50.</summary>
    [Range(1.0, 1_000_000.0)]
    public double ComplexityMinSamples { get; set; } = 50;

    /// <summary>
    /// Share of a calibrated adaptive rule's calls granted <see cref="ExplorationFactor"/> times
    /// the calibrated base, so a budget that truncates more than a larger one would can learn so
    /// (a budget only sees the tail up to what it grants). 0..0.5; 0 turns exploration off. Default 0.02.
    /// </summary>
    [Range(0.0, 0.5)]
    public double ExplorationShare { get; set; } = 0.02;

    /// <summary>What an exploring call's calibrated base is multiplied by, 1.1..4, within the rule's max. Default 1.5.</summary>
    [Range(1.1, 4.0)]
    public double ExplorationFactor { get; set; } = 1.5;

    /// <summary>
    /// Test every settled call for a change of what its tier and task type need, and on a change
    /// discount the evidence from before it (see docs/adaptive-budgets.md). Default true.
    /// </summary>
    public bool DetectChanges { get; set; } = true;

    /// <summary>
    /// The log-likelihood ratio at which the change test alarms, 4..100: higher raises fewer false
    /// alarms and detects a little later. Default 12 (about one false alarm per 10^6 calls per test).
    /// </summary>
    [Range(4.0, 100.0)]
    public double ChangeThreshold { get; set; } = ChangeDetector.DefaultThreshold;

    public CalibrationSettings ToSettings() => new(HalfLife, Headroom) { ComplexityMinSamples = ComplexityMinSamples };
}
