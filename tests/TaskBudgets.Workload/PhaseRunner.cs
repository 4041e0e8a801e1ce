using TaskBudgets.V1;

namespace TaskBudgets.Workload;

/// <summary>One call as it went: what it needed, what it was granted, what it used, and whether its grant said the calibration was relearning after a change.</summary>
internal readonly record struct CallRecord(int TaskType, long Need, long Granted, long Used, bool Truncated, bool Recalibrating = false);

/// <summary>
/// Sends planned calls through the real API: GetBudget, then "use" min(need, budget) reasoning
/// tokens, stopping on MAX_TOKENS when the need is larger, then ReportUsage, which is all the
/// server learns from. Calls run <c>concurrency</c> at a time, in plan order.
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
        CancellationToken cancellationToken)
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
                records[i] = await CallAsync(budgets, workload, orgId, plan[i], cancellationToken);
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

    private static async Task<CallRecord> CallAsync(BudgetService.BudgetServiceClient budgets, WorkloadFile workload, string orgId, PlannedCall call, CancellationToken cancellationToken)
    {
        var taskType = workload.TaskTypes[call.TaskType].Name;
        var grant = await budgets.GetBudgetAsync(
            new GetBudgetRequest { OrgId = orgId, TaskType = taskType, Model = workload.Model, Features = Features(call) },
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
                Usage = new UsageTokens { InputTokens = 500, OutputTokens = output, ReasoningTokens = used },
                StopReason = truncated ? StopReason.MaxTokens : StopReason.EndTurn,
            },
            cancellationToken: cancellationToken);
        return new CallRecord(call.TaskType, call.Need, budget, used, truncated, grant.Reasons.Any(r => r.Code == ReasonCode.Recalibrating));
    }

    private static TaskFeatures Features(PlannedCall call)
    {
        var features = new TaskFeatures { EstimatedInputTokens = 500 };
        if (call.Complexity is { } hint)
        {
            features.Complexity = hint;
        }

        return features;
    }
}
