using TaskBudgets.V1;

namespace TaskBudgets.Workload;

/// <summary>
/// One call (a task's first attempt) as it went: what it needed, what it was granted, what it
/// used, and whether its grant said the calibration was relearning after a change.
/// </summary>
/// <param name="ReservedAll">Reasoning tokens granted over all of the task's attempts.</param>
/// <param name="Completed">Some attempt finished within its budget.</param>
/// <param name="Attempts">Attempts the task made.</param>
internal readonly record struct CallRecord(int TaskType, long Need, long Granted, long Used, bool Truncated, long ReservedAll, bool Completed, int Attempts, bool Recalibrating = false)
{
    public CallRecord(int taskType, long need, long granted, long used, bool truncated, bool recalibrating = false)
        : this(taskType, need, granted, used, truncated, granted, !truncated, 1, recalibrating)
    {
    }

    /// <summary>The phase the call was sent with (unspecified without call features).</summary>
    public Phase Phase { get; init; }

    /// <summary>The estimated input size the call was sent with.</summary>
    public long InputTokens { get; init; }

    /// <summary>The grant came from the calibration (REASON_CODE_ADAPTIVE), not the rule's default.</summary>
    public bool Calibrated { get; init; }
}

/// <summary>
/// Sends planned calls through the real API: GetBudget, then "use" min(need, budget) reasoning
/// tokens, stopping on MAX_TOKENS when the need is larger, then ReportUsage, which is all the
/// server learns from. Calls run <c>concurrency</c> at a time, in plan order. With more than one
/// attempt, a truncated call asks again for the same need as a careful client does (attempt + 1,
/// previous stop MAX_TOKENS, the budget it exceeded) and reports each attempt; a retry keeps the
/// call's hint, phase and input size.
/// </summary>
internal static class PhaseRunner
{
    public static async Task<CallRecord[]> RunAsync(
        BudgetService.BudgetServiceClient budgets,
        WorkloadFile workload,
        string orgId,
        PlannedCall[] plan,
        int concurrency,
        Action<int>? progress,
        CancellationToken cancellationToken,
        int maxAttempts = 1)
    {
        ArgumentNullException.ThrowIfNull(budgets);
        ArgumentNullException.ThrowIfNull(workload);
        ArgumentNullException.ThrowIfNull(plan);
        var records = new CallRecord[plan.Length];
        var next = -1;
        var done = 0;

        async Task WorkerAsync()
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < plan.Length)
            {
                records[i] = await TaskAsync(budgets, workload, orgId, plan[i], Math.Max(1, maxAttempts), cancellationToken);
                var finished = Interlocked.Increment(ref done);
                if (finished % 5000 == 0)
                {
                    progress?.Invoke(finished);
                }
            }
        }

        await Task.WhenAll(Enumerable.Range(0, Math.Max(1, concurrency)).Select(_ => Task.Run(WorkerAsync, cancellationToken)));
        return records;
    }

    private static async Task<CallRecord> TaskAsync(BudgetService.BudgetServiceClient budgets, WorkloadFile workload, string orgId, PlannedCall call, int maxAttempts, CancellationToken cancellationToken)
    {
        var first = await CallAsync(budgets, workload, orgId, call, Features(call), cancellationToken);
        var (reserved, last, attempt) = (first.Granted, first, 1);
        while (last.Truncated && attempt < maxAttempts)
        {
            attempt++;
            var features = Features(call);
            features.Attempt = attempt;
            features.PreviousStopReason = StopReason.MaxTokens;
            features.PreviousReasoningTokens = last.Granted;
            last = await CallAsync(budgets, workload, orgId, call, features, cancellationToken);
            reserved += last.Granted;
        }

        return first with { ReservedAll = reserved, Completed = !last.Truncated, Attempts = attempt };
    }

    private static async Task<CallRecord> CallAsync(BudgetService.BudgetServiceClient budgets, WorkloadFile workload, string orgId, PlannedCall call, TaskFeatures features, CancellationToken cancellationToken)
    {
        var taskType = workload.TaskTypes[call.TaskType].Name;
        var grant = await budgets.GetBudgetAsync(
            new GetBudgetRequest { OrgId = orgId, TaskType = taskType, Model = workload.Model, Features = features },
            cancellationToken: cancellationToken);
        var budget = grant.Budget.ReasoningTokens;
        var truncated = call.Need > budget;
        var used = Math.Min(call.Need, budget);

        // A truncated call spends its whole output allowance; one that finishes adds its answer.
        var output = truncated ? grant.Budget.MaxOutputTokens : Math.Min(grant.Budget.MaxOutputTokens, used + workload.AnswerTokens);
        await budgets.ReportUsageAsync(
            new ReportUsageRequest
            {
                GrantId = grant.GrantId,
                Usage = new UsageTokens { InputTokens = call.InputTokens, OutputTokens = output, ReasoningTokens = used },
                StopReason = truncated ? StopReason.MaxTokens : StopReason.EndTurn,
            },
            cancellationToken: cancellationToken);
        return new CallRecord(call.TaskType, call.Need, budget, used, truncated, grant.Reasons.Any(r => r.Code == ReasonCode.Recalibrating))
        {
            Phase = call.Phase,
            InputTokens = call.InputTokens,
            Calibrated = grant.Reasons.Any(r => r.Code == ReasonCode.Adaptive),
        };
    }

    private static TaskFeatures Features(PlannedCall call)
    {
        var features = new TaskFeatures { EstimatedInputTokens = call.InputTokens, Phase = call.Phase };
        if (call.Complexity is { } hint)
        {
            features.Complexity = hint;
        }

        return features;
    }
}
