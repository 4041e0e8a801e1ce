using System.Collections.Immutable;

namespace TaskBudgets.Governance.Budgeting.Calibration;

/// <summary>Whose calls a calibration describes: a tier's task type (a rule's), tier-wide or one org's.</summary>
/// <param name="OrgId">Empty for the tier-wide calibration.</param>
public readonly record struct CalibrationKey(string Tier, string TaskType, string OrgId);

/// <summary>
/// What the calibration offers an adaptive rule: the base budget, the escalation ladder after
/// truncated attempts and the learned effects of the complexity hint, the phase and the input size. A value type, so that passing it
/// to <see cref="BudgetDecision.Decide"/> allocates nothing. The default is "no calibration".
/// </summary>
/// <param name="Samples">Decayed calls behind it.</param>
/// <param name="BaseTokens">The base reasoning budget (the tier's allocation, with headroom, within min..max).</param>
/// <param name="Retry1Tokens">Attempt 2 after a truncated attempt: what such calls needed past the base.</param>
/// <param name="Retry2Tokens">Attempt 3 after a truncated attempt 2.</param>
/// <param name="Retry3Tokens">Attempt 4 and later.</param>
/// <param name="ComplexitySlope">d ln(need) / d complexity, learned from hinted calls; valid when <paramref name="HasComplexity"/>.</param>
/// <param name="ComplexityMean">The mean hint of those calls: a call with this hint gets the base.</param>
/// <param name="TargetTruncationRate">The tier's target, for the grant's reasons.</param>
/// <param name="OrgSpecific">Learned from the org's own calls rather than the tier's.</param>
/// <param name="HintFactors">
/// What calls of each complexity band (<see cref="CalibrationStats.HintBands"/> equal bands of 0..1)
/// need relative to the base, which was fitted to hint-adjusted usage; empty (default) to use the
/// linear effect (<paramref name="ComplexitySlope"/>) on the base alone.
/// </param>
public readonly record struct CalibratedBudget(
    double Samples,
    long BaseTokens,
    long Retry1Tokens,
    long Retry2Tokens,
    long Retry3Tokens,
    double ComplexitySlope,
    double ComplexityMean,
    bool HasComplexity,
    double TargetTruncationRate,
    bool OrgSpecific,
    ImmutableArray<double> HintFactors = default)
{
    /// <summary>
    /// What a call's complexity hint multiplies its base (and its escalation ladder) by: the
    /// hint band's learned factor, or the linear effect around the mean hint; 1 without a hint or
    /// a learned effect. At most <paramref name="maxFactor"/> either way.
    /// </summary>
    public double HintFactor(double? complexity, double maxFactor)
    {
        if (complexity is not { } hint || !HasComplexity)
        {
            return 1.0;
        }

        if (!HintFactors.IsDefaultOrEmpty)
        {
            return HintFactors[Math.Min(HintFactors.Length - 1, CalibrationStats.Band(hint))];
        }

        var shift = ComplexitySlope * (Math.Clamp(hint, 0.0, 1.0) - ComplexityMean);
        return Math.Exp(Math.Clamp(shift, -Math.Log(maxFactor), Math.Log(maxFactor)));
    }

    /// <summary>Attempts the ladder has steps for: the base, then one step each up to this attempt (later attempts take its last).</summary>
    public const int LadderAttempts = 4;

    /// <summary>
    /// A change of what the key's calls need was detected and the calibration is relearning (fewer
    /// than the rule's min_samples calls since): it governs even below min_samples, since falling
    /// back to the rule's default would undo what it has relearnt.
    /// </summary>
    public bool Recalibrating { get; init; }

    /// <summary>What the calls' phases and input sizes were learned to say about their needs; where nothing is learned the rule's fixed effects apply.</summary>
    public FeatureFactors Features
    {
        get => features ?? FeatureFactors.None;
        init => features = value;
    }

    private readonly FeatureFactors? features;

    /// <summary>The budget of attempt <paramref name="attempt"/> (2 or more) after a truncated attempt.</summary>
    public long RetryTokens(int attempt) => attempt <= 2 ? Retry1Tokens : attempt == 3 ? Retry2Tokens : Retry3Tokens;

    /// <summary>Whether <paramref name="rule"/> takes its base budget from this calibration.</summary>
    public bool Governs(TierRule rule)
    {
        ArgumentNullException.ThrowIfNull(rule);
        return rule.Adaptive && BaseTokens > 0 && (Samples >= rule.MinSamples || Recalibrating);
    }
}

/// <summary>How the calibration weighs and pads what it learns.</summary>
/// <param name="HalfLife">A call's weight halves every half-life: recent behaviour weighs most.</param>
/// <param name="Headroom">Budgets chosen by the allocation are multiplied by this (1..2) before clamping to the rule.</param>
public sealed record CalibrationSettings(TimeSpan HalfLife, double Headroom)
{
    public static readonly CalibrationSettings Default = new(TimeSpan.FromDays(1), 1.0);

    /// <summary>Fewest hinted calls (decayed) before the complexity hint's effect is used.</summary>
    public double ComplexityMinSamples { get; init; } = 50;
}
