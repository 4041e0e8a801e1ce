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

    /// <summary>The calibration that decided the base (when <see cref="BudgetReasons.Adaptive"/> is set).</summary>
    public CalibratedBudget Calibration { get; init; }

    /// <summary>Decides the budget of one call.</summary>
    /// <param name="rule">The tier's rule for the call's task type (or its "*" rule).</param>
    /// <param name="features">What the caller says about the call.</param>
    /// <param name="model">The model the call goes to.</param>
    /// <param name="quotas">Every quota that applies, with what is left of it.</param>
    /// <param name="taskBudgetRemaining">What the call's agentic loop has left; null when the call has no task.</param>
    /// <param name="calibration">What calls of this tier and task type really used; used only when the rule is adaptive and it has the rule's min_samples.</param>
    public static BudgetDecision Decide(
        TierRule rule,
        in CallFeatures features,
        ModelSpec model,
        ReadOnlySpan<QuotaHeadroom> quotas,
        long? taskBudgetRemaining = null,
        in CalibratedBudget calibration = default)
    {
        var reasons = rule.IsDefault ? BudgetReasons.DefaultRule : BudgetReasons.TierRule;
        var effort = rule.Effort;

        // 1. Rule and 2. Task. Base budget: the calibration's for an adaptive rule with enough samples
        // (the complexity hint moves it by its learned effect), else the rule's and the hint's.
        var adaptive = calibration.Governs(rule);
        double budget = rule.DefaultReasoningTokens;
        if (adaptive)
        {
            budget = calibration.BaseTokens;
            reasons |= BudgetReasons.Adaptive;
            if (features.Complexity is { } hint && calibration.HasComplexity)
            {
                var shift = calibration.ComplexitySlope * (Math.Clamp(hint, 0.0, 1.0) - calibration.ComplexityMean);
                budget *= Math.Exp(Math.Clamp(shift, -Math.Log(MaxComplexityFactor), Math.Log(MaxComplexityFactor)));
                reasons |= BudgetReasons.Complexity;
            }
        }
        else if (features.Complexity is { } complexity)
        {
            budget = rule.MinReasoningTokens + (Math.Clamp(complexity, 0.0, 1.0) * (rule.MaxReasoningTokens - rule.MinReasoningTokens));
            reasons |= BudgetReasons.Complexity;
        }

        if (features.EstimatedInputTokens > LongInputThreshold)
        {
            var share = Math.Min(1.0, (double)(features.EstimatedInputTokens - LongInputThreshold) / (LongInputSaturation - LongInputThreshold));
            budget *= 1.0 + ((LongInputMaxFactor - 1.0) * share);
            reasons |= BudgetReasons.LongInput;
        }

        switch (features.Phase)
        {
            case CallPhase.Preliminary:
                budget *= rule.PreliminaryFraction;
                effort = ReasoningEffort.Low;
                reasons |= BudgetReasons.PreliminaryPhase;
                break;
            case CallPhase.Deep:
                budget = rule.MaxReasoningTokens;
                effort = StepUp(effort);
                reasons |= BudgetReasons.DeepPhase;
                break;
        }

        switch (features.Priority)
        {
            case CallPriority.Low:
                budget *= LowPriorityFactor;
                reasons |= BudgetReasons.Priority;
                break;
            case CallPriority.High:
                budget *= HighPriorityFactor;
                reasons |= BudgetReasons.Priority;
                break;
        }

        // 3. Escalation after a truncated attempt, up to the rule's max: an adaptive rule grows to
        // what such calls needed once past the previous budget, not by a blind factor.
        var multiplier = 1.0;
        if (adaptive && features.Attempt > 1 && features.PreviousAttemptTruncated)
        {
            var retry = calibration.RetryTokens(features.Attempt);
            multiplier = budget > 0 ? Math.Max(1.0, retry / budget) : 1.0;
            budget = Math.Max(budget, retry);
            effort = StepUp(effort);
            reasons |= BudgetReasons.Escalated;
        }
        else if (features.Attempt > 1 && features.PreviousAttemptTruncated && rule.EscalationFactor > 1.0)
        {
            multiplier = Math.Pow(rule.EscalationFactor, Math.Min(features.Attempt - 1, 64));
            budget *= multiplier;
            effort = StepUp(effort);
            reasons |= BudgetReasons.Escalated;
        }

        var reasoning = (long)Math.Round(Math.Min(budget, long.MaxValue / 2.0), MidpointRounding.AwayFromZero);
        var clamped = Math.Clamp(reasoning, rule.MinReasoningTokens, rule.MaxReasoningTokens);
        if (clamped != reasoning && (reasons & BudgetReasons.Escalated) == 0)
        {
            reasons |= BudgetReasons.ClampedToRule;
        }

        reasoning = clamped;
        var requested = reasoning;
        var kind = DecisionKind.Granted;

        // 4. Soft limit: past the threshold, shrink smoothly toward the rule's minimum.
        var utilisation = 0.0;
        foreach (var quota in quotas)
        {
            utilisation = Math.Max(utilisation, quota.Utilisation);
        }

        if (utilisation > rule.SoftLimitThreshold && rule.SoftLimitThreshold < 1.0)
        {
            var left = (1.0 - utilisation) / (1.0 - rule.SoftLimitThreshold);
            var scale = rule.SoftLimitFloor + ((1.0 - rule.SoftLimitFloor) * left);
            var shrunk = rule.MinReasoningTokens + (long)((reasoning - rule.MinReasoningTokens) * scale);
            if (shrunk < reasoning)
            {
                reasoning = shrunk;
                kind = DecisionKind.Reduced;
                reasons |= BudgetReasons.SoftLimit;
            }
        }

        reasoning = FitModel(reasoning, model, ref reasons);
        var output = Math.Min(rule.MaxOutputTokens, reasoning + rule.AnswerTokens);

        // 5. Quota cap: the least of the budget and what every quota has left.
        var limiting = -1;
        var reasoningCap = long.MaxValue;
        var outputCap = long.MaxValue;
        for (var i = 0; i < quotas.Length; i++)
        {
            var quota = quotas[i];
            var remaining = Math.Max(0, quota.Remaining);
            long cap;
            switch (quota.Metric)
            {
                case QuotaMetric.Requests:
                    if (remaining < 1)
                    {
                        return Denial(i, reasons, utilisation);
                    }

                    continue;
                case QuotaMetric.ReasoningTokens:
                    if (remaining < reasoningCap)
                    {
                        reasoningCap = remaining;
                        if (remaining < reasoning)
                        {
                            limiting = i;
                        }
                    }

                    continue;
                case QuotaMetric.OutputTokens:
                    cap = remaining;
                    break;
                case QuotaMetric.TotalTokens:
                    cap = remaining - Math.Max(0, features.EstimatedInputTokens);
                    break;
                case QuotaMetric.CostMicros:
                    cap = model.OutputTokensAffordable(remaining, Math.Max(0, features.EstimatedInputTokens));
                    break;
                default:
                    continue;
            }

            if (cap < outputCap)
            {
                outputCap = cap;
                if (cap < output)
                {
                    limiting = i;
                }
            }
        }

        var cappedOutput = Math.Min(output, outputCap);
        var cappedReasoning = Math.Min(Math.Min(reasoning, reasoningCap), cappedOutput - rule.AnswerTokens);
        if (cappedReasoning < rule.MinReasoningTokens || cappedOutput <= 0)
        {
            return Denial(limiting, reasons, utilisation);
        }

        if (cappedReasoning < reasoning || cappedOutput < output)
        {
            // A model's thinking floor may not be met by what the quota leaves: think less or not at all.
            if (cappedReasoning > 0 && cappedReasoning < model.MinThinkingTokens && model.Thinking == ThinkingMode.Budget)
            {
                if (rule.MinReasoningTokens > 0)
                {
                    return Denial(limiting, reasons, utilisation);
                }

                cappedReasoning = 0;
            }

            reasoning = cappedReasoning;
            output = Math.Min(cappedOutput, reasoning + rule.AnswerTokens);
            kind = DecisionKind.Reduced;
            reasons |= BudgetReasons.QuotaCap;
        }
        else
        {
            limiting = -1;
        }

        var taskBudget = rule.TaskBudgetTokens;
        if (taskBudgetRemaining is { } taskLeft)
        {
            taskBudget = Math.Max(0, taskLeft);
            reasons |= BudgetReasons.TaskBudget;
        }

        return new BudgetDecision
        {
            Denied = false,
            LimitingQuota = limiting,
            Kind = kind,
            ReasoningTokens = reasoning,
            MaxOutputTokens = output,
            Effort = effort,
            TaskBudgetTokens = taskBudget,
            Reasons = reasons,
            RequestedReasoningTokens = requested,
            EscalationMultiplier = multiplier,
            Utilisation = utilisation,
            Calibration = adaptive ? calibration : default,
        };
    }

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
