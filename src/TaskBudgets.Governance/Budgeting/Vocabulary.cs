namespace TaskBudgets.Governance.Budgeting;

/// <summary>Provider-neutral reasoning effort, ordered from least to most.</summary>
public enum ReasoningEffort
{
    Low = 1,
    Medium = 2,
    High = 3,
    Max = 4,
}

/// <summary>Batch jobs triage cheaply first (preliminary) and go deep only where needed.</summary>
public enum CallPhase
{
    Standard = 0,
    Preliminary = 1,
    Deep = 2,
}

/// <summary>How much a call matters to its caller.</summary>
public enum CallPriority
{
    Normal = 0,
    Low = 1,
    High = 2,
}

/// <summary>Whether the rule's budget was granted in full or cut down.</summary>
public enum DecisionKind
{
    Granted = 1,
    Reduced = 2,
}

/// <summary>The provider family of a model: it decides which request parameters a grant carries.</summary>
public enum ModelFamily
{
    Anthropic = 1,
    OpenAi = 2,
    Gemini = 3,
}

/// <summary>How a model is told how much to think.</summary>
public enum ThinkingMode
{
    /// <summary>An explicit thinking budget in tokens (Anthropic manual thinking, Gemini thinkingBudget).</summary>
    Budget = 1,

    /// <summary>Only an effort level (Anthropic adaptive thinking, OpenAI reasoning_effort).</summary>
    Effort = 2,
}
