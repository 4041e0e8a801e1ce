using System.Runtime.CompilerServices;
using TaskBudgets.Governance.Budgeting.Calibration;
using TaskBudgets.Governance.Quotas;

namespace TaskBudgets.Governance.Budgeting;

/// <summary>
/// The budget of one call: the pure, deterministic decision of README's "How it decides" (rule,
/// task, escalation, soft limit, quota cap). It reads no clock, touches no storage and allocates
/// nothing. <see cref="DecisionReasons"/> puts it into words.
/// </summary>
public readonly record struct BudgetDecision
{
    /// <summary>Inputs past this many tokens start raising the reasoning budget.</summary>
    public const long LongInputThreshold = 16_384;

    /// <summary>Inputs of this many tokens or more get the full long-input raise.</summary>
    public const long LongInputSaturation = 131_072;

    /// <summary>The most a long input raises the reasoning budget.</summary>
    public const double LongInputMaxFactor = 1.5;

    public const double LowPriorityFactor = 0.75;

    public const double HighPriorityFactor = 1.25;

    /// <summary>The most a learned complexity effect moves an adaptive budget, either way.</summary>
    public const double MaxComplexityFactor = 4.0;

    /// <summary>No budget fits: the most constraining quota cannot hold the rule's minimum.</summary>
    public bool Denied { get; init; }

    /// <summary>Index (into the headrooms passed in) of the quota that denied or capped the budget; -1 for none.</summary>
    public int LimitingQuota { get; init; }

    public DecisionKind Kind { get; init; }

    public long ReasoningTokens { get; init; }

    public long MaxOutputTokens { get; init; }

    public ReasoningEffort Effort { get; init; }

    public long TaskBudgetTokens { get; init; }

    public BudgetReasons Reasons { get; init; }

    /// <summary>The budget the rule and the task asked for, before soft limits and quotas.</summary>
    public long RequestedReasoningTokens { get; init; }

    /// <summary>The escalation multiplier applied (1 when none).</summary>
    public double EscalationMultiplier { get; init; }

    /// <summary>The highest utilisation among the applicable quotas, 0..1.</summary>
    public double Utilisation { get; init; }

    /// <summary>What the complexity hint multiplied an adaptive base by (1 when it did not).</summary>
    public double ComplexityFactor { get; init; }

    /// <summary>What the input size multiplied the base by: its band's learned factor, else the fixed long-input step; 1 for a short input.</summary>
    public double InputFactor { get; init; }

    /// <summary>What the phase multiplied the base by: 1 for standard; learned, else the rule's preliminary fraction; 0 for a deep call whose phase is not learned.</summary>
    public double PhaseFactor { get; init; }

    /// <summary>
    /// What the call's phase and input size are known to multiply its need by: a report's usage
    /// divided by this is in the base's terms, which is how the calibration learns from it. The
    /// learned factors; the rule's fixed effects where nothing can be learned against yet; 0 where
    /// the call's group is still being learned (or a deep call's phase is unknown): the call then
    /// teaches only its group, since a guess of its effect would blur the base.
    /// </summary>
    public double FeatureFactor { get; init; }

    /// <summary>The long input's factor was learned from calls of its band, not the fixed step.</summary>
    public bool InputLearned { get; init; }

    /// <summary>The phase's factor was learned from calls of that phase, not taken from the rule.</summary>
    public bool PhaseLearned { get; init; }

    /// <summary>
    /// On a retry after a truncated attempt: the reasoning budget that attempt exceeded (the
    /// caller's figure, else the previous step of the ladder for this call); 0 otherwise.
    /// </summary>
    public long PreviousReasoningTokens { get; init; }

    /// <summary>The calibration that decided the base (when <see cref="BudgetReasons.Adaptive"/> is set).</summary>
    public CalibratedBudget Calibration { get; init; }

    /// <summary>Decides the budget of one call.</summary>
    /// <param name="rule">The tier's rule for the call's task type (or its "*" rule).</param>
    /// <param name="features">What the caller says about the call.</param>
    /// <param name="model">The model the call goes to.</param>
    /// <param name="quotas">Every quota that applies, with what is left of it.</param>
    /// <param name="taskBudgetRemaining">What the call's agentic loop has left; null when the call has no task.</param>
    /// <param name="calibration">What calls of this tier and task type really used; used only when the rule is adaptive and it has the rule's min_samples.</param>
    /// <param name="exploration">Whether this call probes above its calibrated budget; only a calibrated adaptive rule probes.</param>
    // Kept out of line: inlined into a caller, the caller's wide (AVX-512) zeroing of a struct can reach
    // Math.Pow's call into libm without a vzeroupper, and libm's SSE code then stalls on every call.
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static BudgetDecision Decide(
        TierRule rule,
        in CallFeatures features,
        ModelSpec model,
        ReadOnlySpan<QuotaHeadroom> quotas,
        long? taskBudgetRemaining = null,
        in CalibratedBudget calibration = default,
        in Exploration exploration = default)
    {
        var adaptive = calibration.Governs(rule);
        var reasons = FromRule(rule);
        var hintFactor = adaptive ? calibration.HintFactor(features.Complexity, MaxComplexityFactor) : 1.0;

        // What the calibration knows of the call's input size and phase (0 where not learned),
        // looked up once: the budget uses it when the calibration governs, the report always.
        var known = calibration.Features;
        var longInput = features.EstimatedInputTokens > LongInputThreshold;
        var knownInput = longInput ? known.Input(features.EstimatedInputTokens) : 1.0;
        var knownPhase = features.Phase == CallPhase.Standard ? 1.0 : known.Phase(features.Phase);
        var inputLearned = adaptive && longInput && knownInput > 0;
        var phaseLearned = adaptive && features.Phase != CallPhase.Standard && knownPhase > 0;
        var inputFactor = InputFactorOf(features.EstimatedInputTokens, inputLearned ? knownInput : 0, adaptive ? known : FeatureFactors.None, ref reasons);
        var phaseFactor = PhaseFactorOf(rule, features.Phase, phaseLearned ? knownPhase : 0, adaptive ? known.PhaseReference : FeatureReference.Unknown, ref reasons);
        var budget = ShapeToTask(rule, features, calibration, exploration, adaptive, hintFactor, inputFactor, phaseFactor, ref reasons);

        // Retries scale like the base: the ladder was worked out in the base's terms.
        var callFactor = hintFactor * inputFactor * phaseFactor;
        var previous = PreviousBudget(budget, rule, features, calibration, adaptive, callFactor);
        var (requested, multiplier) = Escalate(budget, previous, rule, features, calibration, adaptive, callFactor, ref reasons);
        var utilisation = HighestUtilisation(quotas);
        var reasoning = FitModel(ApplySoftLimit(requested, utilisation, rule, ref reasons), model, ref reasons);
        var output = Math.Min(rule.MaxOutputTokens, reasoning + rule.AnswerTokens);
        var (limiting, denied) = CapToQuotas(rule, features, model, quotas, ref reasoning, ref output, ref reasons);
        if (denied)
        {
            return Denial(limiting, reasons, utilisation);
        }

        return new BudgetDecision
        {
            Denied = false,
            LimitingQuota = limiting,
            Kind = (reasons & (BudgetReasons.SoftLimit | BudgetReasons.QuotaCap)) != 0 ? DecisionKind.Reduced : DecisionKind.Granted,
            ReasoningTokens = reasoning,
            MaxOutputTokens = output,
            Effort = EffortFor(rule.Effort, reasons),
            TaskBudgetTokens = taskBudgetRemaining is { } taskLeft ? Math.Max(0, taskLeft) : rule.TaskBudgetTokens,
            Reasons = taskBudgetRemaining.HasValue ? reasons | BudgetReasons.TaskBudget : reasons,
            RequestedReasoningTokens = requested,
            EscalationMultiplier = multiplier,
            Utilisation = utilisation,
            Calibration = adaptive ? calibration : default,
            ComplexityFactor = hintFactor,
            InputFactor = inputFactor,
            PhaseFactor = phaseFactor,
            FeatureFactor = KnownFactor(rule, features, known, knownInput, knownPhase),
            InputLearned = inputLearned,
            PhaseLearned = phaseLearned,
            PreviousReasoningTokens = previous,
        };
    }

    /// <summary>1. Rule: the tier's rule for the call's task type, or its "*" default.</summary>
    private static BudgetReasons FromRule(TierRule rule) =>
        rule.IsDefault ? BudgetReasons.DefaultRule : BudgetReasons.TierRule;

    /// <summary>2. Task: the base for the call's complexity, then its input size and phase, then its priority.</summary>
    private static double ShapeToTask(TierRule rule, in CallFeatures features, in CalibratedBudget calibration, in Exploration exploration, bool adaptive, double hintFactor, double inputFactor, double phaseFactor, ref BudgetReasons reasons)
    {
        var budget = adaptive
            ? Explore(CalibratedBase(features.Complexity, calibration, hintFactor, ref reasons), exploration, ref reasons)
            : RuleBase(rule, features.Complexity, ref reasons);
        budget *= inputFactor;
        if (features.Phase == CallPhase.Deep && phaseFactor == 0)
        {
            budget = DeepWhileUnknown(budget, rule, calibration);
        }
        else
        {
            budget *= phaseFactor;
        }

        return ApplyPriority(budget, features.Priority, ref reasons);
    }

    /// <summary>
    /// A deep call before its phase is learned: a static rule's max; an adaptive rule's is
    /// <see cref="CalibrationSnapshot.SmoothStartFactor"/> times the most known (the call's
    /// standard budget, or the most a deep call reached), widened each rebuild while deep calls
    /// run out of it, as a task type's first budgets are (<see cref="CalibrationSnapshot"/>):
    /// granting every deep call the max while learning reserves the max for each of them.
    /// </summary>
    private static double DeepWhileUnknown(double budget, TierRule rule, in CalibratedBudget calibration) =>
        rule.Adaptive
            ? Math.Min(rule.MaxReasoningTokens, CalibrationSnapshot.SmoothStartFactor * Math.Max(budget, calibration.Features.DeepReach))
            : rule.MaxReasoningTokens;

    /// <summary>
    /// What the call's phase and input size are known to multiply its need by (<see cref="FeatureFactor"/>):
    /// each feature's learned factor; where there is nothing to learn it against, the rule's fixed
    /// effect (consistent with the budgets); else 0, while the call's group or its reference is
    /// still being learned (<see cref="FeatureReference"/>).
    /// </summary>
    /// <param name="knownInput">The learned factor of the call's input (1 for a short one; 0 when not learned).</param>
    /// <param name="knownPhase">The learned factor of the call's phase (1 for standard; 0 when not learned).</param>
    private static double KnownFactor(TierRule rule, in CallFeatures features, FeatureFactors known, double knownInput, double knownPhase)
    {
        var input = knownInput > 0 ? knownInput
            : known.InputReference == FeatureReference.Missing ? LongInputStep(features.EstimatedInputTokens)
            : 0;
        var phase = features.Phase switch
        {
            _ when knownPhase > 0 => knownPhase,
            _ when known.PhaseReference != FeatureReference.Missing => 0,
            CallPhase.Preliminary => rule.PreliminaryFraction,
            _ => 1.0,
        };
        return input * phase;
    }

    /// <summary>
    /// The rule's default budget, or the complexity hint's point between its min and max. An
    /// adaptive rule's min..max are bounds for what it learns, not a scale for the hint: until it
    /// has learned what the hint means it grants its default (a hint of 0.9 would otherwise get
    /// 90% of the max while it learns).
    /// </summary>
    private static double RuleBase(TierRule rule, double? complexity, ref BudgetReasons reasons)
    {
        if (complexity is not { } hint || rule.Adaptive)
        {
            return rule.DefaultReasoningTokens;
        }

        reasons |= BudgetReasons.Complexity;
        return rule.MinReasoningTokens + (Math.Clamp(hint, 0.0, 1.0) * (rule.MaxReasoningTokens - rule.MinReasoningTokens));
    }

    /// <summary>An adaptive rule's base: the calibration's, moved by the complexity hint's learned effect.</summary>
    private static double CalibratedBase(double? complexity, in CalibratedBudget calibration, double hintFactor, ref BudgetReasons reasons)
    {
        reasons |= calibration.Recalibrating ? BudgetReasons.Adaptive | BudgetReasons.Recalibrating : BudgetReasons.Adaptive;
        if (complexity is null || !calibration.HasComplexity)
        {
            return calibration.BaseTokens;
        }

        reasons |= BudgetReasons.Complexity;
        return calibration.BaseTokens * hintFactor;
    }

    /// <summary>A probing call's calibrated base is raised by the exploration factor (the rule's max still caps it).</summary>
    private static double Explore(double budget, in Exploration exploration, ref BudgetReasons reasons)
    {
        if (!exploration.Probes)
        {
            return budget;
        }

        reasons |= BudgetReasons.Exploration;
        return budget * exploration.Factor;
    }

    /// <summary>
    /// The fixed long-input step: 1 up to <see cref="LongInputThreshold"/> tokens, rising linearly
    /// to <see cref="LongInputMaxFactor"/> at <see cref="LongInputSaturation"/>.
    /// </summary>
    public static double LongInputStep(long inputTokens)
    {
        if (inputTokens <= LongInputThreshold)
        {
            return 1.0;
        }

        var share = Math.Min(1.0, (double)(inputTokens - LongInputThreshold) / (LongInputSaturation - LongInputThreshold));
        return 1.0 + ((LongInputMaxFactor - 1.0) * share);
    }

    /// <summary>
    /// A long input's effect: what its band was learned to need (<paramref name="learnedFactor"/>,
    /// 0 when not); else the fixed step, or the trend of the learned bands below it where that is more.
    /// </summary>
    private static double InputFactorOf(long inputTokens, double learnedFactor, FeatureFactors learned, ref BudgetReasons reasons)
    {
        if (inputTokens <= LongInputThreshold)
        {
            return 1.0;
        }

        reasons |= BudgetReasons.LongInput;
        return learnedFactor > 0 ? learnedFactor : Math.Max(LongInputStep(inputTokens), learned.InputBeyondLearned(inputTokens));
    }

    /// <summary>
    /// A preliminary or deep call's effect: what its phase was learned to need, else the rule's
    /// preliminary fraction, or for a deep call its max (0 here), except where the key's calls are
    /// all deep (they are then the base's own). <see cref="EffortFor"/> moves the effort.
    /// </summary>
    /// <param name="learnedFactor">What the phase was learned to need; 0 when not.</param>
    /// <param name="reference">What is known of the standard calls the phase is learned against.</param>
    private static double PhaseFactorOf(TierRule rule, CallPhase phase, double learnedFactor, FeatureReference reference, ref BudgetReasons reasons)
    {
        switch (phase)
        {
            case CallPhase.Preliminary:
                reasons |= BudgetReasons.PreliminaryPhase;
                return learnedFactor > 0 ? learnedFactor : rule.PreliminaryFraction;
            case CallPhase.Deep:
                reasons |= BudgetReasons.DeepPhase;
                return learnedFactor > 0 ? learnedFactor
                    : reference == FeatureReference.Missing ? 1.0
                    : 0;
            default:
                return 1.0;
        }
    }

    private static double ApplyPriority(double budget, CallPriority priority, ref BudgetReasons reasons)
    {
        switch (priority)
        {
            case CallPriority.Low:
                reasons |= BudgetReasons.Priority;
                return budget * LowPriorityFactor;
            case CallPriority.High:
                reasons |= BudgetReasons.Priority;
                return budget * HighPriorityFactor;
            default:
                return budget;
        }
    }

    /// <summary>
    /// The budget a retry's previous attempt exceeded: the caller's figure, else the step before
    /// this attempt's on the ladder the call would have climbed (the base for attempt 2); 0 when
    /// the call is no retry after a truncation.
    /// </summary>
    private static long PreviousBudget(double budget, TierRule rule, in CallFeatures features, in CalibratedBudget calibration, bool adaptive, double callFactor)
    {
        if (features.Attempt <= 1 || !features.PreviousAttemptTruncated)
        {
            return 0;
        }

        if (features.PreviousReasoningTokens > 0)
        {
            return features.PreviousReasoningTokens;
        }

        // A deep call given the rule's max (no call factor) climbed no ladder: it had the max.
        var step = features.Attempt == 2 || (adaptive && callFactor == 0) ? budget
            : adaptive ? calibration.RetryTokens(features.Attempt - 1) * callFactor
            : budget * Math.Pow(Math.Max(1.0, rule.EscalationFactor), Math.Min(features.Attempt - 2, 64));
        return Math.Clamp((long)Math.Round(Math.Min(step, long.MaxValue / 2.0)), rule.MinReasoningTokens, rule.MaxReasoningTokens);
    }

    /// <summary>3. Escalation after a truncated attempt, then the clamp to the rule's min..max.</summary>
    private static (long Requested, double Multiplier) Escalate(double budget, long previous, TierRule rule, in CallFeatures features, in CalibratedBudget calibration, bool adaptive, double callFactor, ref BudgetReasons reasons)
    {
        var multiplier = 1.0;
        if (features.Attempt > 1 && features.PreviousAttemptTruncated && (adaptive || rule.EscalationFactor > 1.0))
        {
            // An adaptive rule grows to what such calls needed once past the previous budget, not by a blind factor.
            if (adaptive)
            {
                // The ladder was worked out in the base's terms, like the base. A previous budget
                // at or past this attempt's step (the caller's own) takes the first step above it.
                var retry = calibration.RetryTokens(features.Attempt) * callFactor;
                for (var next = features.Attempt + 1; retry <= previous && next <= CalibratedBudget.LadderAttempts; next++)
                {
                    retry = calibration.RetryTokens(next) * callFactor;
                }

                if (retry <= previous)
                {
                    retry = rule.MaxReasoningTokens;
                }

                multiplier = budget > 0 ? Math.Max(1.0, retry / budget) : 1.0;
                budget = Math.Max(budget, retry);
            }
            else
            {
                multiplier = Math.Pow(rule.EscalationFactor, Math.Min(features.Attempt - 1, 64));
                budget *= multiplier;
            }

            reasons |= BudgetReasons.Escalated;
        }

        return (ClampToRule(budget, rule, ref reasons), multiplier);
    }

    /// <summary>Rounds the budget into the rule's min..max: what the rule and the task ask for.</summary>
    private static long ClampToRule(double budget, TierRule rule, ref BudgetReasons reasons)
    {
        var reasoning = (long)Math.Round(Math.Min(budget, long.MaxValue / 2.0), MidpointRounding.AwayFromZero);
        var clamped = Math.Clamp(reasoning, rule.MinReasoningTokens, rule.MaxReasoningTokens);
        if (clamped != reasoning && (reasons & BudgetReasons.Escalated) == 0)
        {
            reasons |= BudgetReasons.ClampedToRule;
        }

        return clamped;
    }

    /// <summary>The highest utilisation among the quotas, 0..1.</summary>
    private static double HighestUtilisation(ReadOnlySpan<QuotaHeadroom> quotas)
    {
        var utilisation = 0.0;
        foreach (var quota in quotas)
        {
            utilisation = Math.Max(utilisation, quota.Utilisation);
        }

        return utilisation;
    }

    /// <summary>4. Soft limit: past the threshold, shrink smoothly toward the rule's minimum.</summary>
    private static long ApplySoftLimit(long reasoning, double utilisation, TierRule rule, ref BudgetReasons reasons)
    {
        if (utilisation <= rule.SoftLimitThreshold || rule.SoftLimitThreshold >= 1.0)
        {
            return reasoning;
        }

        var left = (1.0 - utilisation) / (1.0 - rule.SoftLimitThreshold);
        var scale = rule.SoftLimitFloor + ((1.0 - rule.SoftLimitFloor) * left);
        var shrunk = rule.MinReasoningTokens + (long)((reasoning - rule.MinReasoningTokens) * scale);
        if (shrunk >= reasoning)
        {
            return reasoning;
        }

        reasons |= BudgetReasons.SoftLimit;
        return shrunk;
    }

    /// <summary>A model that takes a thinking budget gets one within its min..max.</summary>
    private static long FitModel(long reasoning, ModelSpec model, ref BudgetReasons reasons)
    {
        if (model.Thinking != ThinkingMode.Budget || reasoning <= 0)
        {
            return reasoning;
        }

        if (reasoning < model.MinThinkingTokens)
        {
            reasons |= BudgetReasons.ProviderMinimum;
            return model.MinThinkingTokens;
        }

        if (model.MaxThinkingTokens > 0 && reasoning > model.MaxThinkingTokens)
        {
            reasons |= BudgetReasons.ClampedToRule;
            return model.MaxThinkingTokens;
        }

        return reasoning;
    }

    /// <summary>5. Quota cap: the least of the budget and what every quota has left, or a denial.</summary>
    private static (int Limiting, bool Denied) CapToQuotas(TierRule rule, in CallFeatures features, ModelSpec model, ReadOnlySpan<QuotaHeadroom> quotas, ref long reasoning, ref long output, ref BudgetReasons reasons)
    {
        var limiting = FindCaps(features, model, quotas, reasoning, output, out var reasoningCap, out var outputCap);
        var cappedOutput = Math.Min(output, outputCap);
        var cappedReasoning = Math.Min(Math.Min(reasoning, reasoningCap), cappedOutput - rule.AnswerTokens);
        if (cappedReasoning < rule.MinReasoningTokens || cappedOutput <= 0)
        {
            return (limiting, true);
        }

        if (cappedReasoning >= reasoning && cappedOutput >= output)
        {
            return (-1, false);
        }

        // A model's thinking floor may not be met by what the quota leaves: think less or not at all.
        if (cappedReasoning > 0 && cappedReasoning < model.MinThinkingTokens && model.Thinking == ThinkingMode.Budget)
        {
            if (rule.MinReasoningTokens > 0)
            {
                return (limiting, true);
            }

            cappedReasoning = 0;
        }

        reasoning = cappedReasoning;
        output = Math.Min(cappedOutput, reasoning + rule.AnswerTokens);
        reasons |= BudgetReasons.QuotaCap;
        return (limiting, false);
    }

    /// <summary>
    /// What the quotas leave for reasoning and for output, and the quota that limits the budget
    /// most (-1 for none). A request quota with none left leaves no room at all.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int FindCaps(in CallFeatures features, ModelSpec model, ReadOnlySpan<QuotaHeadroom> quotas, long reasoning, long output, out long reasoningCap, out long outputCap)
    {
        var limiting = -1;
        long reasoningLeft = long.MaxValue, outputLeft = long.MaxValue;
        for (var i = 0; i < quotas.Length; i++)
        {
            var quota = quotas[i];
            var remaining = Math.Max(0, quota.Remaining);
            switch (quota.Metric)
            {
                case QuotaMetric.Requests when remaining < 1:
                    (reasoningCap, outputCap) = (0, 0);
                    return i;
                case QuotaMetric.ReasoningTokens when remaining < reasoningLeft:
                    reasoningLeft = remaining;
                    limiting = remaining < reasoning ? i : limiting;
                    break;
                case QuotaMetric.OutputTokens or QuotaMetric.TotalTokens or QuotaMetric.CostMicros:
                    var cap = OutputLeft(quota.Metric, remaining, features.EstimatedInputTokens, model);
                    if (cap < outputLeft)
                    {
                        outputLeft = cap;
                        limiting = cap < output ? i : limiting;
                    }

                    break;
            }
        }

        (reasoningCap, outputCap) = (reasoningLeft, outputLeft);
        return limiting;
    }

    /// <summary>What a quota of <paramref name="metric"/> with <paramref name="remaining"/> left leaves for output.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static long OutputLeft(QuotaMetric metric, long remaining, long inputTokens, ModelSpec model) => metric switch
    {
        QuotaMetric.OutputTokens => remaining,
        QuotaMetric.TotalTokens => remaining - Math.Max(0, inputTokens),
        QuotaMetric.CostMicros => model.OutputTokensAffordable(remaining, Math.Max(0, inputTokens)),
        _ => long.MaxValue,
    };

    /// <summary>The rule's effort, low for a preliminary call, a step up for a deep call and again for an escalated one.</summary>
    private static ReasoningEffort EffortFor(ReasoningEffort effort, BudgetReasons reasons)
    {
        if ((reasons & BudgetReasons.PreliminaryPhase) != 0)
        {
            effort = ReasoningEffort.Low;
        }

        if ((reasons & BudgetReasons.DeepPhase) != 0)
        {
            effort = StepUp(effort);
        }

        return (reasons & BudgetReasons.Escalated) != 0 ? StepUp(effort) : effort;
    }

    private static ReasoningEffort StepUp(ReasoningEffort effort) =>
        effort >= ReasoningEffort.Max ? ReasoningEffort.Max : effort + 1;

    private static BudgetDecision Denial(int limiting, BudgetReasons reasons, double utilisation) => new()
    {
        Denied = true,
        LimitingQuota = limiting,
        Kind = DecisionKind.Reduced,
        Reasons = reasons | BudgetReasons.QuotaCap,
        Utilisation = utilisation,
        EscalationMultiplier = 1.0,
    };
}
