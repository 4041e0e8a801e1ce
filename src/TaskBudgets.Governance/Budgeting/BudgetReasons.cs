namespace TaskBudgets.Governance.Budgeting;

/// <summary>
/// The steps that shaped a budget. A bit set rather than a list so that deciding a
/// budget allocates nothing; the texts are written only when a response is built.
/// </summary>
[Flags]
public enum BudgetReasons
{
    None = 0,
    TierRule = 1 << 0,
    DefaultRule = 1 << 1,
    Complexity = 1 << 2,
    LongInput = 1 << 3,
    PreliminaryPhase = 1 << 4,
    DeepPhase = 1 << 5,
    Priority = 1 << 6,
    Escalated = 1 << 7,
    ClampedToRule = 1 << 8,
    SoftLimit = 1 << 9,
    QuotaCap = 1 << 10,
    TaskBudget = 1 << 11,
    ProviderMinimum = 1 << 12,
    Adaptive = 1 << 13,
    Exploration = 1 << 14,
    Recalibrating = 1 << 15,
}
