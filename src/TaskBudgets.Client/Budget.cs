namespace TaskBudgets.Client;

/// <summary>What one model call may use, in provider-neutral terms.</summary>
/// <param name="MaxOutputTokens">Hard cap on output tokens, reasoning included.</param>
/// <param name="ReasoningTokens">Thinking budget in tokens; 0 means the call should not think.</param>
/// <param name="Effort">Reasoning effort, for models that take a level instead of (or as well as) a budget.</param>
/// <param name="TaskBudgetTokens">Advisory budget left for the whole agentic loop; 0 when there is none.</param>
public sealed record Budget(long MaxOutputTokens, long ReasoningTokens, Effort Effort, long TaskBudgetTokens);

/// <summary>A provider-neutral reasoning effort level.</summary>
public enum Effort
{
    /// <summary>Not set; a grant never carries it.</summary>
    Unspecified = 0,

    /// <summary>Anthropic "low", OpenAI "low".</summary>
    Low = 1,

    /// <summary>Anthropic "medium", OpenAI "medium".</summary>
    Medium = 2,

    /// <summary>Anthropic "high", OpenAI "high".</summary>
    High = 3,

    /// <summary>Anthropic "max"; OpenAI maps it to "high".</summary>
    Max = 4,
}

/// <summary>Whether a grant is the rule's budget, a smaller one, or the SDK's own fallback.</summary>
public enum BudgetDecision
{
    /// <summary>Not set; a grant never carries it.</summary>
    Unspecified = 0,

    /// <summary>The rule's budget was granted in full.</summary>
    Granted = 1,

    /// <summary>A soft limit or a quota's remaining capacity made the budget smaller than the rule's.</summary>
    Reduced = 2,

    /// <summary>
    /// The service could not be reached and <see cref="FallbackMode.FailOpen"/> gave the fixed budget
    /// of <see cref="TaskBudgetsFallbackOptions"/>. Nothing was reserved. Never sent by the service.
    /// </summary>
    Fallback = 100,
}

/// <summary>One step of the decision: a code for machines and a sentence for people.</summary>
/// <param name="Code">What kind of step it was. Match on this, not on <paramref name="Text"/>.</param>
/// <param name="Text">The step in English with its numbers; its wording may change.</param>
public sealed record BudgetReason(BudgetReasonCode Code, string Text);

/// <summary>
/// Why a budget is what it is. The values are the service's <c>taskbudgets.v1.ReasonCode</c>; a
/// code added to the service later arrives as its number, so callers should tolerate unnamed values.
/// </summary>
public enum BudgetReasonCode
{
    /// <summary>Not set.</summary>
    Unspecified = 0,

    /// <summary>The tier's rule for the task type decided the base budget.</summary>
    TierRule = 1,

    /// <summary>No rule for the task type: the tier's "*" rule decided.</summary>
    DefaultRule = 2,

    /// <summary>The complexity hint placed the budget between the rule's min and max.</summary>
    Complexity = 3,

    /// <summary>A long estimated input raised the budget.</summary>
    LongInput = 4,

    /// <summary>A preliminary phase cut the budget.</summary>
    PreliminaryPhase = 5,

    /// <summary>A deep phase asked for the rule's maximum.</summary>
    DeepPhase = 6,

    /// <summary>The priority moved the budget.</summary>
    Priority = 7,

    /// <summary>A retry after a truncated attempt got a larger budget.</summary>
    Escalated = 8,

    /// <summary>The budget was clamped into the rule's min..max.</summary>
    ClampedToRule = 9,

    /// <summary>A quota past its soft threshold shrank the budget.</summary>
    SoftLimit = 10,

    /// <summary>A quota's remaining capacity capped the budget.</summary>
    QuotaCap = 11,

    /// <summary>The agentic loop's remaining task budget capped the budget.</summary>
    TaskBudget = 12,

    /// <summary>The provider's minimum (Anthropic's 1024-token thinking floor) raised the provider parameters.</summary>
    ProviderMinimum = 13,

    /// <summary>An adaptive rule's calibration (what such calls really used) decided the base budget or the escalation.</summary>
    Adaptive = 14,

    /// <summary>This call explores above its calibrated budget, so the calibration can see whether a larger budget pays.</summary>
    Exploration = 15,

    /// <summary>What such calls need changed; the calibration discounted what it knew before and is relearning.</summary>
    Recalibrating = 16,

    /// <summary>The SDK's fail-open fallback decided the budget: the service was unreachable. Never sent by the service.</summary>
    Fallback = 100,
}
