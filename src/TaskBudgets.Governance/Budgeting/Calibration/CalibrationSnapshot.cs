using System.Collections.Frozen;
using System.Collections.Immutable;

namespace TaskBudgets.Governance.Budgeting.Calibration;

/// <summary>One row of GetCalibration: what was learned about one tier and task type (and org).</summary>
public sealed record CalibrationView(
    CalibrationKey Key,
    double Samples,
    UsagePercentile UsedP50,
    UsagePercentile UsedP90,
    UsagePercentile UsedP95,
    UsagePercentile UsedP99,
    double TruncationRate,
    double ReservationEfficiency,
    double OverGrantRate,
    long OutputP50,
    long OutputP99,
    long CurrentBudget,
    long RecommendedBudget,
    double ProjectedTruncationRate,
    long ProjectedReservedPerCall,
    bool Adaptive,
    int MinSamples,
    bool Active,
    double TargetTruncationRate,
    double ComplexitySlope)
{
    /// <summary>The escalation ladder after a truncated first attempt: the budgets of attempts 2, 3 and 4 (hint-adjusted like the base).</summary>
    public ImmutableArray<long> EscalationBudgets { get; init; } = [];

    /// <summary>Projected reasoning tokens reserved per completed task, with the ladder's retries (up to attempt 4).</summary>
    public long ProjectedReservedPerTask { get; init; }

    /// <summary>Decayed calls that continued a truncated attempt (not counted in <see cref="Samples"/>).</summary>
    public double Retries { get; init; }

    /// <summary>Changes of need detected for this key (its change epoch).</summary>
    public long ChangesDetected { get; init; }

    /// <summary>When the latest change was detected (Unix ms); 0 with none.</summary>
    public long LastChangeAtMs { get; init; }

    /// <summary>Relearning after a change: fewer than min_samples calls since it.</summary>
    public bool Recalibrating { get; init; }

    /// <summary>Calls counted since the latest change.</summary>
    public double CallsSinceChange { get; init; }

    /// <summary>What the row's calls' phases and input sizes were learned to say about their needs.</summary>
    public FeatureFactors Features { get; init; } = FeatureFactors.None;
}

/// <summary>
/// The calibration in force: immutable, rebuilt from the merged statistics every sync and swapped
/// whole. Budgets are worked out here, off the hot path; <see cref="Recommend"/> is a lookup.
/// </summary>
public sealed class CalibrationSnapshot
{
    /// <summary>How far past what is known (the default, the largest value seen) a budget may go in one rebuild.</summary>
    public const double SmoothStartFactor = 2.0;

    public static readonly CalibrationSnapshot Empty = new(0, FrozenDictionary<CalibrationKey, CalibratedBudget>.Empty, FrozenDictionary<CalibrationKey, ChangeReference>.Empty, []);

    private readonly FrozenDictionary<CalibrationKey, CalibratedBudget> budgets;

    private readonly FrozenDictionary<CalibrationKey, ChangeReference> references;

    private CalibrationSnapshot(long policyVersion, FrozenDictionary<CalibrationKey, CalibratedBudget> budgets, FrozenDictionary<CalibrationKey, ChangeReference> references, IReadOnlyList<CalibrationView> views)
    {
        PolicyVersion = policyVersion;
        this.budgets = budgets;
        this.references = references;
        Views = views;
    }

    /// <summary>The policy version whose rules and targets the budgets were worked out under.</summary>
    public long PolicyVersion { get; }

    /// <summary>Every row, ordered by tier, task type and org.</summary>
    public IReadOnlyList<CalibrationView> Views { get; }

    /// <summary>
    /// The calibration an adaptive rule's call uses: the org's own where it has the rule's
    /// min_samples, else the tier's. Its <see cref="CalibratedBudget.BaseTokens"/> is the adaptive
    /// base budget; <see cref="CalibratedBudget.Governs"/> says whether the rule uses it yet.
    /// Allocation-free; the default value when nothing was learned.
    /// </summary>
    /// <param name="tier">The org's tier.</param>
    /// <param name="taskType">The task type of the rule that governs the call (<see cref="TierRule.TaskType"/>).</param>
    /// <param name="rule">That rule (its min_samples decides whether an org's own data is enough).</param>
    /// <param name="orgId">The caller's org; empty for the tier-wide calibration only.</param>
    public CalibratedBudget Recommend(string tier, string taskType, TierRule rule, string orgId = "")
    {
        ArgumentNullException.ThrowIfNull(rule);
        if (orgId.Length > 0 && budgets.TryGetValue(new CalibrationKey(tier, taskType, orgId), out var own) && (own.Samples >= rule.MinSamples || own.Recalibrating))
        {
            return own;
        }

        return budgets.TryGetValue(new CalibrationKey(tier, taskType, string.Empty), out var shared) ? shared : default;
    }

    /// <summary>What <paramref name="key"/>'s calls should look like if nothing changed; unwatched (default) when nothing is known. Allocation-free.</summary>
    public ChangeReference Reference(in CalibrationKey key) => references.TryGetValue(key, out var reference) ? reference : default;

    /// <summary>
    /// Works out every budget: per tier (and per org with data of its own), the allocation of the
    /// tier's target truncation rate across its task types, then each type's escalation ladder.
    /// Statistics of tiers or task types the policy no longer has are left out.
    /// </summary>
    /// <param name="policyVersion">The version of the policy <paramref name="tiers"/> are from.</param>
    /// <param name="tiers">The policy's tiers by name.</param>
    public static CalibrationSnapshot Build(
        long policyVersion,
        IReadOnlyDictionary<string, TierPolicy> tiers,
        IReadOnlyDictionary<CalibrationKey, CalibrationStats> stats,
        DateTimeOffset now,
        CalibrationSettings settings)
    {
        ArgumentNullException.ThrowIfNull(tiers);
        ArgumentNullException.ThrowIfNull(stats);
        ArgumentNullException.ThrowIfNull(settings);
        var nowMs = now.ToUnixTimeMilliseconds();
        var budgets = new Dictionary<CalibrationKey, CalibratedBudget>();
        var references = new Dictionary<CalibrationKey, ChangeReference>();
        var views = new List<CalibrationView>();
        foreach (var group in stats.GroupBy(s => (s.Key.Tier, s.Key.OrgId)))
        {
            if (!tiers.TryGetValue(group.Key.Tier, out var tier))
            {
                continue;
            }

            var rows = new List<Row>();
            foreach (var (key, s) in group)
            {
                var samples = s.Samples(nowMs, settings.HalfLife);
                if (tier.Rules.GetValueOrDefault(key.TaskType) is { } rule && samples > 1e-9)
                {
                    // With a learned hint effect the base is fitted to what calls would need at the
                    // average hint, so that each call's hint factor brings it to its own need.
                    // Likewise for the call's phase and input size: usage is stored in the base's terms.
                    var factors = s.HintFactors(settings.ComplexityMinSamples, BudgetDecision.MaxComplexityFactor);
                    rows.Add(new Row(key, s, rule, samples, new SurvivalCurve(s.BaseUsage(factors), rule.MaxReasoningTokens), factors is null ? default : [.. factors], tier.TargetTruncationRate)
                    {
                        Traffic = s.TrafficSamples(nowMs, settings.HalfLife),
                        Features = s.LearnFeatureFactors(settings.ComplexityMinSamples, rule.MaxReasoningTokens),
                    });
                }
            }

            AddGroup(tier, rows, settings, budgets, references, views);
        }

        views.Sort((a, b) =>
            string.CompareOrdinal(a.Key.Tier, b.Key.Tier) is var t and not 0 ? t
            : string.CompareOrdinal(a.Key.TaskType, b.Key.TaskType) is var k and not 0 ? k
            : string.CompareOrdinal(a.Key.OrgId, b.Key.OrgId));
        return new CalibrationSnapshot(policyVersion, budgets.ToFrozenDictionary(), references.ToFrozenDictionary(), views);
    }

    private static void AddGroup(
        TierPolicy tier,
        List<Row> rows,
        CalibrationSettings settings,
        Dictionary<CalibrationKey, CalibratedBudget> budgets,
        Dictionary<CalibrationKey, ChangeReference> references,
        List<CalibrationView> views)
    {
        if (rows.Count == 0)
        {
            return;
        }

        var target = tier.TargetTruncationRate;

        // Shares of the tier's calls: a key relearning after a change has few samples, not little traffic.
        var total = rows.Sum(r => r.Traffic);

        // In force: adaptive rules with enough samples share out what the others leave of the target.
        // A task type none of whose calls completed cannot be sized from data (every budget looks
        // equally hopeless): it gets the rule's max, where its calls can show what they need.
        var free = new List<int>();
        var fixedTruncation = 0.0;
        for (var i = 0; i < rows.Count; i++)
        {
            var r = rows[i];
            if (r.Active && r.Sizable)
            {
                free.Add(i);
            }
            else
            {
                var budget = r.Active ? r.Rule.MaxReasoningTokens : r.Rule.DefaultReasoningTokens;
                fixedTruncation += r.Traffic / total * r.Curve.Survival(budget);
            }
        }

        // Where the fixed rules alone use more than their share of the target, the adaptive ones do
        // not chase it up to their max: they still meet the target on their own calls.
        var freeShare = free.Sum(i => rows[i].Traffic) / total;
        var allowance = Math.Max(target - fixedTruncation, target * freeShare);
        var ladders = rows.Select(r => EscalationLadder.Build(Candidates(r), target, r.RetryShare)).ToArray();
        var applied = TierAllocation.Allocate([.. free.Select(i => Item(rows[i], ladders[i], total))], 0, allowance);

        // Recommended: what the allocation would give if every rule of the tier were adaptive.
        var sizable = rows.Where(r => r.Sizable).ToList();
        var fixedForRecommended = rows.Where(r => !r.Sizable).Sum(r => r.Traffic / total * r.Curve.Survival(r.Rule.MaxReasoningTokens));
        var recommendedSizable = TierAllocation.Allocate([.. sizable.Select(r => Item(r, ladders[rows.IndexOf(r)], total))], fixedForRecommended, target);
        var recommended = rows.Select(r => r.Sizable ? recommendedSizable[sizable.IndexOf(r)] : r.Rule.MaxReasoningTokens).ToArray();

        for (var i = 0; i < rows.Count; i++)
        {
            var r = rows[i];
            var rule = r.Rule;
            var at = free.IndexOf(i);
            var active = r.Active;
            var allocated = at >= 0 ? applied[at] : recommended[i];
            var chosen = Math.Min(Padded(allocated, rule, settings), r.LearningBound);
            var fit = r.Stats.ComplexityFit(settings.ComplexityMinSamples);

            // Escalation: the cheapest ladder after the first budget among those that let at most
            // the target share of the calls reaching each step be truncated again
            // (need > b given need > previous: S(b) <= target * S(previous)).
            var retries = ladders[i].StepsAfter(ladders[i].IndexOf(Math.Min(allocated, chosen)));
            var previous = chosen;
            for (var k = 0; k < retries.Length; k++)
            {
                previous = Math.Max(previous, Padded(retries[k], rule, settings));
                retries[k] = previous;
            }

            budgets[r.Key] = new CalibratedBudget(
                r.Samples,
                chosen,
                retries[0],
                retries[1],
                retries[2],
                fit?.Slope ?? 0,
                fit?.Mean ?? 0,
                fit is not null,
                target,
                r.Key.OrgId.Length > 0,
                r.HintFactors) { Recalibrating = r.Recalibrating, Features = r.Features };

            var s = r.Stats;

            // What calls used, as they came (the curve the budgets come from is in the base's terms).
            var used = new SurvivalCurve(s.Reasoning, rule.MaxReasoningTokens);
            var (p50, p90) = (used.Percentile(0.50), used.Percentile(0.90));

            // The change test compares each call with the curve its budget came from.
            var (median, tail) = (r.Curve.Percentile(0.50), r.Curve.Percentile(0.90));
            var watched = active && !r.Recalibrating && r.Samples >= ChangeDetector.MinReferenceCalls && !median.Censored && !tail.Censored;
            references[r.Key] = new ChangeReference(r.Curve, median.Tokens, tail.Tokens, watched, s.ChangeEpoch) { HintFactors = r.HintFactors };
            views.Add(new CalibrationView(
                r.Key,
                r.Samples,
                p50,
                p90,
                used.Percentile(0.95),
                used.Percentile(0.99),
                s.Calls > 0 ? s.Truncations / s.Calls : 0,
                s.ReasoningGranted > 0 ? s.ReasoningUsed / s.ReasoningGranted : 0,
                s.Calls > 0 ? s.OverGrants / s.Calls : 0,
                s.Output.TotalWeight > 0 ? s.Output.NaiveQuantile(0.50) : 0,
                s.Output.TotalWeight > 0 ? s.Output.NaiveQuantile(0.99) : 0,
                active ? chosen : rule.DefaultReasoningTokens,
                chosen,
                r.Curve.Survival(chosen),
                chosen,
                rule.Adaptive,
                rule.MinSamples,
                active,
                target,
                fit?.Slope ?? 0)
            {
                EscalationBudgets = [.. retries],
                ProjectedReservedPerTask = ReservedPerTask(r.Curve, chosen, retries),
                Retries = s.Retries * (r.Samples / Math.Max(s.Calls, 1e-300)),
                ChangesDetected = s.ChangeEpoch,
                LastChangeAtMs = s.ChangeAtMs,
                Recalibrating = r.Recalibrating,
                CallsSinceChange = s.ChangeEpoch > 0 ? s.CallsSinceChange : 0,
                Features = r.Features,
            });
        }
    }

    /// <summary>
    /// Expected reasoning tokens reserved per completed task: the first budget, each step times the
    /// share of tasks that reach it, over the share that completes by the last step.
    /// </summary>
    private static long ReservedPerTask(SurvivalCurve curve, long first, long[] steps)
    {
        var reserved = (double)first;
        var reaching = curve.Survival(first);
        foreach (var step in steps)
        {
            reserved += reaching * step;
            reaching = curve.Survival(step);
        }

        return (long)Math.Round(reserved / Math.Max(1e-9, 1.0 - reaching));
    }

    private static List<(long Budget, double Survival)> Candidates(Row r) => r.Curve.Candidates(r.Rule.MinReasoningTokens, r.Rule.MaxReasoningTokens);

    private static AllocationItem Item(Row r, EscalationLadder ladder, double total) =>
        new(r.Traffic / total, Candidates(r), ladder.Costs);

    private static long Padded(long budget, TierRule rule, CalibrationSettings settings) =>
        Math.Clamp((long)Math.Ceiling(budget * settings.Headroom), rule.MinReasoningTokens, rule.MaxReasoningTokens);

    /// <param name="Curve">Of hint-adjusted usage where <paramref name="HintFactors"/> are learned, else of usage.</param>
    /// <param name="Target">The tier's target truncation rate.</param>
    private sealed record Row(CalibrationKey Key, CalibrationStats Stats, TierRule Rule, double Samples, SurvivalCurve Curve, ImmutableArray<double> HintFactors, double Target)
    {
        /// <summary>The share of truncated attempts that their callers retried (each retry follows one truncation).</summary>
        public double RetryShare { get; } = Stats.Truncations + Stats.RetryTruncations > 0
            ? Math.Min(1.0, Stats.Retries / (Stats.Truncations + Stats.RetryTruncations))
            : 0;

        /// <summary>Decayed calls, kept across changes (<see cref="CalibrationStats.Traffic"/>): the key's weight in the tier's allocation.</summary>
        public double Traffic { get; init; }

        /// <summary>What the calls' phases and input sizes were learned to say about their needs.</summary>
        public FeatureFactors Features { get; init; } = FeatureFactors.None;

        /// <summary>
        /// Some call completed: the curve says something below the rule's max. Not after a change
        /// while more than the target share of the calls since ran out of every budget they got
        /// (<see cref="TailUnseenAfterChange"/>): there the curve is flat past them up to the rule's max, so
        /// the allocation would see no gain in a larger budget and keep the one they ran out of.
        /// </summary>
        public bool Sizable { get; } = Stats.Reasoning.CompletedWeight > 1e-9 && !TailUnseenAfterChange(Rule, Stats, Curve, Target);

        /// <summary>
        /// A change was detected and the key relearns: fewer than min_samples calls came since, or
        /// their tail is still unseen (it then grows by <see cref="SmoothStartFactor"/> per rebuild).
        /// </summary>
        public bool Recalibrating { get; } = Rule.Adaptive && Stats.ChangeEpoch > 0
            && (Stats.CallsSinceChange < Rule.MinSamples || TailUnseenAfterChange(Rule, Stats, Curve, Target));

        /// <summary>The adaptive rule takes its budget from the calibration: it has min_samples, or is relearning after a change.</summary>
        public bool Active => Rule.Adaptive && (Samples >= Rule.MinSamples || Recalibrating);

        /// <summary>
        /// The most a budget may be while the tail is unseen: <see cref="SmoothStartFactor"/> times
        /// the larger of the rule's default and the largest value any call reached. Where the
        /// calls' needs lie beyond everything seen, the estimator can only say "more" (the rule's
        /// max); granting that to every call until some complete reserves the max for all of them.
        /// A step at a time instead: calls granted this bound complete (and the tail is placed) or
        /// are truncated at it (and the next rebuild widens the bound by the same factor). Never
        /// below the rule's min; once the tail is placed the allocation stays well inside it.
        /// </summary>
        public long LearningBound { get; } = Math.Max(
            Rule.MinReasoningTokens,
            (long)Math.Min(Rule.MaxReasoningTokens, SmoothStartFactor * Math.Max(Rule.DefaultReasoningTokens, Curve.LargestObserved)));

        /// <summary>
        /// After a change, more than twice the target share of the calls since need more than the
        /// largest value any of them reached (the allocation places heavy task types at one to three
        /// times the target: past twice it, the curve cannot place their budget).
        /// </summary>
        private static bool TailUnseenAfterChange(TierRule rule, CalibrationStats stats, SurvivalCurve curve, double target) =>
            rule.Adaptive && stats.ChangeEpoch > 0 && curve.ObservedSurvival(curve.LargestObserved) > 2 * target;
    }
}
