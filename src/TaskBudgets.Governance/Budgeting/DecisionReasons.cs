using System.Globalization;
using System.Runtime.CompilerServices;

namespace TaskBudgets.Governance.Budgeting;

/// <summary>One step of a decision in words: which step (its flag) and what it did, with its numbers.</summary>
public readonly record struct DecisionReason(BudgetReasons Step, string Text);

/// <summary>
/// A decision in words: a <see cref="DecisionReason"/> per step it took, in the order of the steps.
/// Written only when a response is built, so deciding stays allocation-free; enumerating it
/// allocates nothing but the texts.
/// </summary>
/// <param name="LimitingQuotaId">The id of the quota that capped or denied the budget, if known.</param>
public readonly record struct DecisionReasons(BudgetDecision Decision, string Tier, TierRule Rule, string? LimitingQuotaId)
{
    /// <summary>The steps in the order their reasons read; the rule's reason always comes first.</summary>
    private static readonly BudgetReasons[] Order =
    [
        BudgetReasons.TierRule,
        BudgetReasons.Adaptive,
        BudgetReasons.Recalibrating,
        BudgetReasons.Complexity,
        BudgetReasons.Exploration,
        BudgetReasons.LongInput,
        BudgetReasons.PreliminaryPhase,
        BudgetReasons.DeepPhase,
        BudgetReasons.Priority,
        BudgetReasons.Escalated,
        BudgetReasons.ClampedToRule,
        BudgetReasons.ProviderMinimum,
        BudgetReasons.SoftLimit,
        BudgetReasons.QuotaCap,
        BudgetReasons.TaskBudget,
    ];

    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    public Enumerator GetEnumerator() => new(this);

    private bool Has(BudgetReasons step) => (Decision.Reasons & step) != 0;

    private DecisionReason RuleReason()
    {
        var texts = RuleTexts.Of(Tier, Rule);
        return Has(BudgetReasons.DefaultRule)
            ? new(BudgetReasons.DefaultRule, texts.AsDefault)
            : new(BudgetReasons.TierRule, texts.AsRule);
    }

    private string Text(BudgetReasons step)
    {
        var d = Decision;
        var rule = Rule;
        return step switch
        {
            BudgetReasons.Adaptive => string.Create(Invariant, $"adaptive: calibrated on {d.Calibration.Samples:0} samples of {Whose()} '{rule.TaskType}' calls (min_samples {rule.MinSamples}): base {d.Calibration.BaseTokens} reasoning tokens, the tier's share of its {d.Calibration.TargetTruncationRate:0.##%} truncation target"),
            BudgetReasons.Complexity => Has(BudgetReasons.Adaptive)
                ? d.Calibration.HintFactors.IsDefaultOrEmpty
                    ? string.Create(Invariant, $"the complexity hint moved the calibrated base by its learned effect (x{Math.Exp(d.Calibration.ComplexitySlope * 0.1):0.##} per +0.1)")
                    : string.Create(Invariant, $"the complexity hint scaled the calibrated base by its learned factor x{d.ComplexityFactor:0.##}: what calls with hints like it needed")
                : "the complexity hint placed the budget between the rule's min and max",
            BudgetReasons.Recalibrating => string.Create(Invariant, $"recalibrating: what {Whose()} '{rule.TaskType}' calls need changed; the evidence from before the change was dropped and the budget is relearnt from the calls since (at least min_samples {rule.MinSamples} of them)"),
            BudgetReasons.Exploration => "exploration: this call is one of the small share granted more than the calibrated base, so calibration sees whether a larger budget truncates less",
            BudgetReasons.LongInput => d.InputLearned
                ? string.Create(Invariant, $"a long input (over {BudgetDecision.LongInputThreshold} tokens): x{d.InputFactor:0.##}, what calls with inputs of its size needed")
                : string.Create(Invariant, $"a long input (over {BudgetDecision.LongInputThreshold} tokens) raised the budget"),
            BudgetReasons.PreliminaryPhase => d.PhaseLearned
                ? string.Create(Invariant, $"preliminary phase: x{d.PhaseFactor:0.##}, what preliminary calls needed, low effort")
                : string.Create(Invariant, $"preliminary phase: {rule.PreliminaryFraction:P0} of the budget, low effort"),
            BudgetReasons.DeepPhase => d.PhaseLearned
                ? string.Create(Invariant, $"deep phase: x{d.PhaseFactor:0.##}, what deep calls needed, a step more effort")
                : d.PhaseFactor > 0
                    ? "deep phase: this task type's calls are (almost) all deep, so the calibrated base is theirs, a step more effort"
                : rule.Adaptive
                    ? "deep phase: twice the most known (the call's budget, or the most a deep call reached) while what deep calls need is learned, a step more effort"
                    : "deep phase: the rule's maximum budget",
            BudgetReasons.Priority => "the call's priority scaled the budget",
            BudgetReasons.Escalated => Has(BudgetReasons.Adaptive)
                ? string.Create(Invariant, $"retry after a truncated attempt: what calls truncated at the previous budget went on to need (x{d.EscalationMultiplier:0.##}), up to the rule's max {rule.MaxReasoningTokens}")
                : string.Create(Invariant, $"retry after a truncated attempt: budget x{d.EscalationMultiplier:0.##}, up to the rule's max {rule.MaxReasoningTokens}"),
            BudgetReasons.ClampedToRule => "the budget was clamped to the rule's (or the model's) bounds",
            BudgetReasons.ProviderMinimum => "raised to the model's minimum thinking budget",
            BudgetReasons.SoftLimit => string.Create(Invariant, $"a quota is {d.Utilisation:P0} used, past the soft threshold {rule.SoftLimitThreshold:P0}: the budget shrinks toward the rule's min"),
            BudgetReasons.QuotaCap => string.Create(Invariant, $"capped by what quota '{LimitingQuotaId ?? "a quota"}' has left"),
            BudgetReasons.TaskBudget => string.Create(Invariant, $"the task has {d.TaskBudgetTokens} tokens of its budget left"),
            _ => throw new ArgumentOutOfRangeException(nameof(step), step, "no text for this step"),
        };
    }

    private string Whose() => Decision.Calibration.OrgSpecific ? "this org's" : string.Create(Invariant, $"tier '{Tier}'");

    /// <summary>Walks <see cref="Order"/>, yielding the reason of each step the decision took.</summary>
    public struct Enumerator
    {
        private readonly DecisionReasons reasons;
        private int next;

        internal Enumerator(DecisionReasons reasons)
        {
            this.reasons = reasons;
            Current = default;
        }

        public DecisionReason Current { readonly get; private set; }

        public bool MoveNext()
        {
            while (next < Order.Length)
            {
                var step = Order[next++];
                if (step == BudgetReasons.TierRule)
                {
                    Current = reasons.RuleReason();
                    return true;
                }

                if (reasons.Has(step))
                {
                    Current = new(step, reasons.Text(step));
                    return true;
                }
            }

            return false;
        }
    }

    /// <summary>
    /// The reason a grant's rule gives reads the same on every grant under that rule: formatted once
    /// per rule (a policy change brings new rule objects) instead of once per GetBudget.
    /// </summary>
    private sealed record RuleTexts(string Tier, string AsRule, string AsDefault)
    {
        private static readonly ConditionalWeakTable<TierRule, RuleTexts> Known = [];

        public static RuleTexts Of(string tier, TierRule rule)
        {
            if (Known.TryGetValue(rule, out var texts) && texts.Tier == tier)
            {
                return texts;
            }

            var range = string.Create(Invariant, $"{rule.MinReasoningTokens}..{rule.MaxReasoningTokens} reasoning tokens, default {rule.DefaultReasoningTokens}");
            texts = new RuleTexts(
                tier,
                string.Create(Invariant, $"tier '{tier}' rule '{rule.TaskType}': {range}"),
                string.Create(Invariant, $"tier '{tier}' has no rule for this task type; its '*' rule applies ({range})"));
            Known.AddOrUpdate(rule, texts);
            return texts;
        }
    }
}
