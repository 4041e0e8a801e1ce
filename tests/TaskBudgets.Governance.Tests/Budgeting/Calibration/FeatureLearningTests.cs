using System.Collections.Immutable;
using TaskBudgets.Governance.Budgeting;
using TaskBudgets.Governance.Budgeting.Calibration;
using TaskBudgets.Governance.Quotas;
using static TaskBudgets.Governance.Tests.Infrastructure.DecisionFixtures;

namespace TaskBudgets.Governance.Tests.Budgeting.Calibration;

/// <summary>What a call's phase and estimated input size say about its need, learned from the calls.</summary>
public class FeatureLearningTests
{
    private const long T0 = 1_700_000_000_000L;

    private const long RuleMax = 100_000;

    private static readonly TimeSpan HalfLife = TimeSpan.FromDays(1);

    private static readonly TierRule Rule = new()
    {
        TaskType = "triage",
        MinReasoningTokens = 64,
        DefaultReasoningTokens = 4096,
        MaxReasoningTokens = 16384,
        AnswerTokens = 1024,
        MaxOutputTokens = 32768,
        SoftLimitThreshold = 1.0,
        PreliminaryFraction = 0.25,
        Adaptive = true,
        MinSamples = 100,
    };

    /// <summary>Spread over a factor of about 3 either way, the same for every group: a need's multiplier for call <paramref name="i"/>.</summary>
    private static double Spread(int i) => Math.Exp(1.1 * (((i * 7919) % 101 / 50.0) - 1.0));

    /// <summary>A call that needs <paramref name="need"/> and got <paramref name="granted"/>: truncated at the grant past it.</summary>
    private static CalibrationSample Call(long need, long granted, CallPhase phase = CallPhase.Standard, long input = 0, double featureFactor = 1.0) =>
        new(Math.Min(need, granted), Math.Min(need, granted) + 50, granted, need > granted, false, null)
        {
            Phase = phase,
            EstimatedInputTokens = input,
            FeatureFactor = featureFactor,
        };

    [Fact]
    public void A_phases_factor_is_the_ratio_of_medians_even_where_many_of_its_calls_are_truncated()
    {
        // Standard calls need about 1,000 and complete; preliminary calls need a tenth of that and
        // are granted 120, so about a third of them are truncated. The mean of the completed ones
        // would put the factor near 0.07; the Kaplan-Meier median puts it at the truth.
        var stats = new CalibrationStats(T0);
        for (var i = 0; i < 600; i++)
        {
            var standard = (long)(1_000 * Spread(i));
            stats.Add(Call(standard, 10_000), T0, HalfLife);
            stats.Add(Call(standard / 10, 120, CallPhase.Preliminary, featureFactor: 0.25), T0, HalfLife);
        }

        var learned = stats.LearnFeatureFactors(50, RuleMax);

        Assert.InRange(learned.Phase(CallPhase.Preliminary), 0.095, 0.105);
        Assert.Equal(1.0, learned.Phase(CallPhase.Standard));
        Assert.Equal(0, learned.Phase(CallPhase.Deep)); // no deep calls: not learned
        Assert.DoesNotContain(learned.InputBands.Skip(1), f => f > 0);
    }

    [Fact]
    public void An_input_bands_factor_is_learned_against_short_inputs_and_a_band_without_calls_is_not()
    {
        var stats = new CalibrationStats(T0);
        for (var i = 0; i < 400; i++)
        {
            var need = (long)(2_000 * Spread(i));
            stats.Add(Call(need, 50_000, input: 3_000), T0, HalfLife);
            stats.Add(Call(3 * need, 50_000, input: 100_000, featureFactor: BudgetDecision.LongInputStep(100_000)), T0, HalfLife);
        }

        var learned = stats.LearnFeatureFactors(50, RuleMax);

        Assert.Equal(3, CalibrationStats.InputBand(100_000));
        Assert.InRange(learned.Input(100_000), 2.9, 3.1);
        Assert.Equal(1.0, learned.Input(3_000));
        Assert.Equal(0, learned.Input(20_000)); // band 1 saw no call
        Assert.Equal(0, learned.Input(500_000)); // band 5 neither
    }

    [Fact]
    public void Too_few_calls_or_no_reference_calls_learn_nothing()
    {
        var few = new CalibrationStats(T0);
        var onlyPreliminary = new CalibrationStats(T0);
        for (var i = 0; i < 200; i++)
        {
            few.Add(Call((long)(1_000 * Spread(i)), 10_000), T0, HalfLife);
            onlyPreliminary.Add(Call((long)(100 * Spread(i)), 10_000, CallPhase.Preliminary, featureFactor: 0.25), T0, HalfLife);
            if (i < 30)
            {
                few.Add(Call((long)(100 * Spread(i)), 10_000, CallPhase.Preliminary, featureFactor: 0.25), T0, HalfLife);
            }
        }

        Assert.Equal(0, few.LearnFeatureFactors(50, RuleMax).Phase(CallPhase.Preliminary));
        Assert.Equal(0, onlyPreliminary.LearnFeatureFactors(50, RuleMax).Phase(CallPhase.Preliminary));
        Assert.False(AnyLearned(onlyPreliminary.LearnFeatureFactors(50, RuleMax)));
    }

    [Fact]
    public void The_base_holds_usage_divided_by_the_grants_feature_factor_and_leaves_out_a_deep_call_at_the_rules_max()
    {
        var stats = new CalibrationStats(T0);
        stats.Add(Call(1_000, 10_000), T0, HalfLife);
        stats.Add(Call(250, 10_000, CallPhase.Preliminary, featureFactor: 0.25), T0, HalfLife);
        stats.Add(Call(9_000, 16_384, CallPhase.Deep, featureFactor: 0), T0, HalfLife);

        var inBase = new SurvivalCurve(stats.BaseUsage(null), RuleMax);
        var used = new SurvivalCurve(stats.Reasoning, RuleMax);

        Assert.Equal(2, inBase.Weight, 9); // the deep call taught only its phase
        Assert.Equal(0, inBase.Survival(1_100), 9); // the preliminary call counts as 1,000
        Assert.Equal(3, used.Weight, 9); // as they came
        Assert.Equal(3, stats.Calls, 9);
    }

    [Fact]
    public void The_phases_and_input_bands_are_stored_merged_and_dropped_at_a_change()
    {
        var stats = new CalibrationStats(T0);
        for (var i = 0; i < 300; i++)
        {
            stats.Add(Call((long)(1_000 * Spread(i)), 10_000), T0, HalfLife);
            stats.Add(Call((long)(2_500 * Spread(i)), 16_384, CallPhase.Deep, input: 40_000, featureFactor: 0), T0, HalfLife);
        }

        var copy = CalibrationStats.Deserialize(stats.Serialize());
        var merged = copy.Clone(HalfLife);
        merged.Merge(copy, HalfLife);
        var learned = stats.LearnFeatureFactors(50, RuleMax);

        Assert.InRange(learned.Phase(CallPhase.Deep), 2.4, 2.6);
        Assert.Equal(learned.Phase(CallPhase.Deep), copy.LearnFeatureFactors(50, RuleMax).Phase(CallPhase.Deep));
        Assert.Equal(learned.Input(40_000), copy.LearnFeatureFactors(50, RuleMax).Input(40_000));
        Assert.Equal(learned.Phase(CallPhase.Deep), merged.LearnFeatureFactors(50, RuleMax).Phase(CallPhase.Deep), 9);

        merged.StartEpoch(1, T0 + 1);
        Assert.False(AnyLearned(merged.LearnFeatureFactors(50, RuleMax)));
    }

    private static CalibratedBudget Calibrated(FeatureFactors? features = null) =>
        new(1_000, 2_000, 6_000, 12_000, 16_384, 0, 0.5, false, 0.05, false) { Features = features ?? FeatureFactors.None };

    private static readonly FeatureFactors Learned = new(
        [1.0, 0.1, 3.0],
        [1.0, 0, 0, 2.0, 0]);

    private static BudgetDecision Decide(CallFeatures features, CalibratedBudget calibration) =>
        BudgetDecision.Decide(Rule, features, EffortOnly, ReadOnlySpan<QuotaHeadroom>.Empty, null, calibration);

    public static TheoryData<string, CallPhase, long, long, double> Cases() => new()
    {
        { "standard, short input: the base", CallPhase.Standard, 1_000, 2_000, 1.0 },
        { "learned preliminary factor", CallPhase.Preliminary, 1_000, 200, 0.1 },
        { "learned deep factor instead of the rule's max", CallPhase.Deep, 1_000, 6_000, 3.0 },
        { "learned input band", CallPhase.Standard, 100_000, 4_000, 2.0 },
        { "an input band not learned follows the learned bands' trend (x2 at band 3's middle, from x1 at 16,384) and teaches only its band", CallPhase.Standard, 200_000, 5_441, 0 },
        { "both multiply", CallPhase.Preliminary, 100_000, 400, 0.2 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void A_learned_factor_replaces_the_rules_fixed_effect(string name, CallPhase phase, long input, long expected, double factor)
    {
        Assert.NotEmpty(name);
        var d = Decide(Features(input: input, phase: phase), Calibrated(Learned));

        Assert.Equal(expected, d.ReasoningTokens);
        Assert.Equal(factor, d.FeatureFactor, 9);
    }

    [Fact]
    public void Without_learned_factors_the_rules_fixed_effects_apply_and_the_call_teaches_only_its_group()
    {
        var preliminary = Decide(Features(phase: CallPhase.Preliminary), Calibrated());
        var longInput = Decide(Features(input: 131_072), Calibrated());
        var deepStatic = BudgetDecision.Decide(Rule with { Adaptive = false }, Features(phase: CallPhase.Deep), EffortOnly, ReadOnlySpan<QuotaHeadroom>.Empty);
        var known = Calibrated(new FeatureFactors([1.0, 0, 0], [1.0, 0, 0, 0, 0]) { PhaseReference = FeatureReference.Known, InputReference = FeatureReference.Known });
        var learning = Decide(Features(phase: CallPhase.Preliminary, input: 131_072), known);

        Assert.Equal(500, preliminary.ReasoningTokens); // the rule's 25 %
        Assert.False(preliminary.PhaseLearned);
        Assert.Equal(3_000, longInput.ReasoningTokens); // the fixed step's 1.5x
        Assert.False(longInput.InputLearned);
        Assert.Equal(16_384, deepStatic.ReasoningTokens); // the rule's max
        Assert.Equal(750, learning.ReasoningTokens); // still the rule's effects: 2,000 x 1.5 x 0.25

        // None of them teaches the base: their effect is a guess (or, for the deep call, none).
        Assert.All((BudgetDecision[])[preliminary, longInput, deepStatic, learning], d => Assert.Equal(0, d.FeatureFactor));
    }

    [Fact]
    public void Where_a_keys_calls_are_all_of_one_group_the_rules_effect_stands_and_teaches_the_base()
    {
        var missing = Calibrated(new FeatureFactors([1.0, 0, 0], [1.0, 0, 0, 0, 0, 0, 0]) { PhaseReference = FeatureReference.Missing, InputReference = FeatureReference.Missing });
        var preliminary = Decide(Features(phase: CallPhase.Preliminary, input: 131_072), missing);
        var deep = Decide(Features(phase: CallPhase.Deep), missing);
        var texts = new List<DecisionReason>();
        foreach (var reason in new DecisionReasons(deep, "tier", Rule, null))
        {
            texts.Add(reason);
        }

        Assert.Equal(750, preliminary.ReasoningTokens);
        Assert.Equal(0.375, preliminary.FeatureFactor, 9); // 0.25 x 1.5: taught with the rule's effects
        Assert.Equal(2_000, deep.ReasoningTokens); // every call is deep: the base is theirs
        Assert.Equal(1.0, deep.FeatureFactor);
        Assert.Contains(texts, r => r.Step == BudgetReasons.DeepPhase && r.Text.Contains("all deep", StringComparison.Ordinal));
    }

    [Fact]
    public void The_reference_is_known_with_enough_of_its_calls_missing_when_nearly_every_call_is_of_another_group()
    {
        var mixed = new CalibrationStats(T0);
        var allPreliminary = new CalibrationStats(T0);
        var early = new CalibrationStats(T0);
        for (var i = 0; i < 400; i++)
        {
            var need = (long)(1_000 * Spread(i));
            mixed.Add(Call(need, 10_000, i % 2 == 0 ? CallPhase.Standard : CallPhase.Preliminary, featureFactor: 0), T0, HalfLife);
            allPreliminary.Add(Call(need, 10_000, i % 100 == 0 ? CallPhase.Standard : CallPhase.Preliminary, featureFactor: 0), T0, HalfLife);
            if (i < 60)
            {
                early.Add(Call(need, 10_000, i % 2 == 0 ? CallPhase.Standard : CallPhase.Preliminary, featureFactor: 0), T0, HalfLife);
            }
        }

        Assert.Equal(FeatureReference.Known, mixed.LearnFeatureFactors(50, RuleMax).PhaseReference);
        Assert.Equal(FeatureReference.Missing, allPreliminary.LearnFeatureFactors(50, RuleMax).PhaseReference);
        Assert.Equal(FeatureReference.Unknown, early.LearnFeatureFactors(50, RuleMax).PhaseReference);
        Assert.Equal(FeatureReference.Unknown, mixed.LearnFeatureFactors(50, RuleMax).InputReference); // no long input at all
    }

    [Fact]
    public void A_deep_call_before_its_phase_is_learned_gets_twice_the_most_known_not_the_rules_max()
    {
        var unseen = Decide(Features(phase: CallPhase.Deep), Calibrated());
        var reached = Decide(Features(phase: CallPhase.Deep), Calibrated(new FeatureFactors([1.0, 0, 0], [1.0, 0, 0, 0, 0]) { DeepReach = 5_000 }));
        var far = Decide(Features(phase: CallPhase.Deep), Calibrated(new FeatureFactors([1.0, 0, 0], [1.0, 0, 0, 0, 0]) { DeepReach = 50_000 }));

        Assert.Equal(4_000, unseen.ReasoningTokens); // twice the base
        Assert.Equal(10_000, reached.ReasoningTokens); // twice what a deep call reached
        Assert.Equal(16_384, far.ReasoningTokens); // never past the rule's max
        Assert.Equal(0, unseen.FeatureFactor);
    }

    [Fact]
    public void A_retry_climbs_the_ladder_scaled_by_its_phase_and_the_reasons_say_what_was_learned()
    {
        var retry = Decide(Features(attempt: 2, truncated: true, phase: CallPhase.Preliminary), Calibrated(Learned));
        var first = Decide(Features(phase: CallPhase.Deep, input: 100_000), Calibrated(Learned));
        var texts = new List<DecisionReason>();
        foreach (var reason in new DecisionReasons(first, "tier", Rule, null))
        {
            texts.Add(reason);
        }

        Assert.Equal(600, retry.ReasoningTokens); // the ladder's 6,000 x 0.1
        Assert.Equal(200, retry.PreviousReasoningTokens); // the base x 0.1 it ran out of
        Assert.Equal(12_000, first.ReasoningTokens);
        Assert.Contains(texts, r => r.Step == BudgetReasons.DeepPhase && r.Text.Contains("x3, what deep calls needed", StringComparison.Ordinal));
        Assert.Contains(texts, r => r.Step == BudgetReasons.LongInput && r.Text.Contains("x2, what calls with inputs of its size needed", StringComparison.Ordinal));
    }

    [Fact]
    public void The_change_test_sees_a_call_in_the_base_terms_and_skips_a_deep_call_at_the_max()
    {
        // A reference of standard calls that need about 1,000; then thousands of preliminary calls
        // that need a tenth, and deep ones that need three times as much, each granted the base
        // times its learned factor. Tested as they came, the deep calls look like a need that
        // tripled and the tail test alarms.
        var stats = new CalibrationStats(T0);
        for (var i = 0; i < 2_000; i++)
        {
            stats.Add(Call((long)(1_000 * Spread(i)), 100_000), T0, HalfLife);
        }

        var curve = new SurvivalCurve(stats.BaseUsage(null), RuleMax);
        var reference = new ChangeReference(curve, curve.Percentile(0.5).Tokens, curve.Percentile(0.9).Tokens, true, 0);
        var detector = new ChangeDetector();
        var unadjusted = new ChangeDetector();
        var alarmed = false;
        for (var i = 0; i < 5_000; i++)
        {
            var need = (long)(1_000 * Spread(i));
            Assert.False(detector.Observe(Call(need / 10, 300, CallPhase.Preliminary, featureFactor: 0.1), reference), $"false change at preliminary call {i}");
            Assert.False(detector.Observe(Call(need * 3, 9_000, CallPhase.Deep, featureFactor: 3), reference), $"false change at deep call {i}");
            Assert.False(detector.Observe(Call(need * 5, 16_384, CallPhase.Deep, featureFactor: 0), reference), $"false change at deep call at the max {i}");
            alarmed |= unadjusted.Observe(Call(need * 3, 9_000, CallPhase.Deep), reference);
        }

        Assert.True(alarmed);
    }

    [Fact]
    public void An_input_factor_holds_at_its_bands_middle_and_is_interpolated_toward_a_learned_neighbour()
    {
        var factors = new FeatureFactors([1.0, 0, 0], [1.0, 1.2, 1.6, 0, 0, 0, 0]);
        double At(double doublings) => factors.Input((long)Math.Round(BudgetDecision.LongInputThreshold * Math.Pow(2, doublings)));

        Assert.Equal(1.2, At(0.5), 3); // band 1's middle
        Assert.Equal(Math.Sqrt(1.2), At(0.25), 3); // halfway from the short inputs' edge (factor 1)
        Assert.Equal(Math.Sqrt(1.2 * 1.6), At(1.0), 3); // halfway to band 2's middle
        Assert.Equal(1.6, At(1.5), 3);
        Assert.Equal(1.6, At(1.9), 3); // band 3 is not learned: flat past the middle
        Assert.Equal(0, At(2.5)); // band 3 itself
    }

    [Fact]
    public void An_input_past_the_learned_bands_follows_their_trend_not_the_rules_smaller_step()
    {
        // Needs that grow as the square root of the input: x1.19 at band 1's middle, x1.68 at band 2's.
        var rooted = new FeatureFactors([1.0, 0, 0], [1.0, Math.Pow(2, 0.25), Math.Pow(2, 0.75), 0, 0, 0, 0]);
        var beyond = (long)Math.Round(BudgetDecision.LongInputThreshold * Math.Pow(2, 3.5)); // band 4's middle
        var d = Decide(Features(input: beyond), Calibrated(rooted));

        Assert.Equal(Math.Pow(2, 1.75), rooted.InputBeyondLearned(beyond), 4); // the trend carried on
        Assert.Equal(2_000 * Math.Pow(2, 1.75), d.ReasoningTokens, 0);
        Assert.Equal(0, d.FeatureFactor); // it still teaches only its band
        Assert.Equal(0, FeatureFactors.None.InputBeyondLearned(beyond));
        Assert.Equal(1.5, Decide(Features(input: beyond), Calibrated()).InputFactor); // nothing learned: the fixed step
    }

    [Fact]
    public void Nothing_learned_reads_as_0_for_every_group()
    {
        Assert.False(AnyLearned(FeatureFactors.None));
        Assert.Equal(0, FeatureFactors.None.Phase(CallPhase.Deep));
        Assert.Same(FeatureFactors.None, default(CalibratedBudget).Features);
        Assert.Equal(0, new FeatureFactors(ImmutableArray<double>.Empty, default).Input(200_000));
        Assert.Equal(0, Learned.Input(600_000)); // past the bands it has
        Assert.True(AnyLearned(Learned));
    }

    /// <summary>Some factor besides the references' own is learned.</summary>
    private static bool AnyLearned(FeatureFactors f) =>
        (!f.Phases.IsDefaultOrEmpty && f.Phases.Skip(1).Any(x => x > 0)) || (!f.InputBands.IsDefaultOrEmpty && f.InputBands.Skip(1).Any(x => x > 0));
}
