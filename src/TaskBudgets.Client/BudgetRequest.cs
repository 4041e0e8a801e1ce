namespace TaskBudgets.Client;

/// <summary>
/// What a caller asks before a model call. Identifiers hold only letters, digits and <c>. _ : -</c>.
/// </summary>
public sealed record BudgetRequest
{
    /// <summary>Required. The task type, e.g. "classification", "support", "research"; picks the tier's rule.</summary>
    public required string TaskType { get; init; }

    /// <summary>Required. The model as the service's policy names it, e.g. "claude-sonnet-4-5".</summary>
    public required string Model { get; init; }

    /// <summary>The org; default <see cref="TaskBudgetsClientOptions.OrgId"/>. One of the two is required.</summary>
    public string? OrgId { get; init; }

    /// <summary>The org's project, for project-scoped quotas. Default: none.</summary>
    public string? ProjectId { get; init; }

    /// <summary>The end user, for principal-scoped quotas. Default: none.</summary>
    public string? PrincipalId { get; init; }

    /// <summary>The agentic loop this call belongs to: its calls share one task budget. Default: none.</summary>
    public string? TaskId { get; init; }

    /// <summary>
    /// Idempotency key: asking again with the same one returns the same grant instead of reserving
    /// twice. Default: a fresh one per <see cref="IBudgetClient.AcquireAsync"/>, reused by its retries.
    /// </summary>
    public string? RequestId { get; init; }

    /// <summary>How hard the task is, 0..1: the budget is min + complexity * (max - min). Default: the rule's default budget.</summary>
    public double? Complexity { get; init; }

    /// <summary>Estimated input tokens of the call, 0..10,000,000. Default 0 (unknown).</summary>
    public long EstimatedInputTokens { get; init; }

    /// <summary>1-based attempt number; 0 means 1.</summary>
    public int Attempt { get; init; }

    /// <summary>Why the previous attempt stopped; <see cref="StopReason.MaxTokens"/> with <see cref="Attempt"/> &gt; 1 escalates the budget.</summary>
    public StopReason PreviousStopReason { get; init; }

    /// <summary>
    /// The reasoning budget the previous (truncated) attempt was granted, 0..100,000,000, so the
    /// service learns from this attempt as the continuation of one task. Default 0: the service
    /// takes its own previous step for the call.
    /// </summary>
    public long PreviousReasoningTokens { get; init; }

    /// <summary>The pass of a batch job. Default standard.</summary>
    public Phase Phase { get; init; }

    /// <summary>How much the call matters. Default normal.</summary>
    public Priority Priority { get; init; }
}

/// <summary>The pass of a batch job that triages cheaply first and goes deep only where needed.</summary>
public enum Phase
{
    /// <summary>The normal budget.</summary>
    Standard = 0,

    /// <summary>A cheap first pass: the rule's preliminary fraction of the budget.</summary>
    Preliminary = 1,

    /// <summary>A deep pass: the rule's maximum reasoning budget.</summary>
    Deep = 2,
}

/// <summary>How much a call matters; nudges the budget within the rule's bounds.</summary>
public enum Priority
{
    /// <summary>The budget unchanged.</summary>
    Normal = 0,

    /// <summary>Three quarters of the budget.</summary>
    Low = 1,

    /// <summary>One and a quarter times the budget.</summary>
    High = 2,
}
