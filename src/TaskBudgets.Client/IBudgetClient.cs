namespace TaskBudgets.Client;

/// <summary>
/// Asks TaskBudgets Governance for the budget of a model call. Registered by
/// <c>services.AddTaskBudgetsClient(...)</c>.
/// </summary>
/// <example>
/// <code>
/// await using var grant = await budgets.AcquireAsync(new BudgetRequest { TaskType = "support", Model = "claude-sonnet-4-5" });
/// // call the model with grant.Anthropic!.MaxTokens and grant.Anthropic.ThinkingBudgetTokens, then:
/// await grant.ReportAsync(Usage.FromAnthropic(input, output, cacheWrite, cacheRead, thinking), StopReasons.FromAnthropic(stopReason));
/// </code>
/// </example>
public interface IBudgetClient
{
    /// <summary>
    /// Decides the budget of one model call and reserves it until the grant is reported, disposed
    /// (released) or expires. Retries UNAVAILABLE and DEADLINE_EXCEEDED with the same request id, so
    /// the service replays one grant rather than reserving twice. When the service stays unreachable,
    /// fails closed (throws) or open (a fallback grant), as <see cref="TaskBudgetsFallbackOptions.Mode"/> says.
    /// </summary>
    /// <returns>The grant; dispose it (<c>await using</c>) so an unreported grant is released.</returns>
    /// <exception cref="BudgetDeniedException">A quota cannot fit the call (RESOURCE_EXHAUSTED). Never retried, never a fallback.</exception>
    /// <exception cref="BudgetServiceException">Any other refusal or failure, including unreachability when failing closed.</exception>
    /// <exception cref="ArgumentException">The request names no org (and the options none either), task type or model.</exception>
    Task<BudgetGrant> AcquireAsync(BudgetRequest request, CancellationToken cancellationToken = default);
}
