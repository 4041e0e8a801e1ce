using Google.Protobuf.WellKnownTypes;
using V1 = TaskBudgets.V1;

namespace TaskBudgets.Client;

/// <summary>Maps between the SDK's types and the proto contract; no decisions here.</summary>
internal static class Wire
{
    public static V1.GetBudgetRequest ToProto(BudgetRequest request, GrantSubject subject)
    {
        var features = new V1.TaskFeatures
        {
            EstimatedInputTokens = request.EstimatedInputTokens,
            Attempt = request.Attempt,
            PreviousStopReason = (V1.StopReason)(int)request.PreviousStopReason,
            PreviousReasoningTokens = request.PreviousReasoningTokens,
            Phase = request.Phase switch
            {
                Phase.Preliminary => V1.Phase.Preliminary,
                Phase.Deep => V1.Phase.Deep,
                _ => V1.Phase.Standard,
            },
            Priority = request.Priority switch
            {
                Priority.Low => V1.Priority.Low,
                Priority.High => V1.Priority.High,
                _ => V1.Priority.Normal,
            },
        };
        if (request.Complexity is { } complexity)
        {
            features.Complexity = complexity;
        }

        return new V1.GetBudgetRequest
        {
            OrgId = subject.OrgId,
            ProjectId = subject.ProjectId ?? string.Empty,
            PrincipalId = subject.PrincipalId ?? string.Empty,
            TaskType = subject.TaskType,
            Model = subject.Model,
            TaskId = request.TaskId ?? string.Empty,
            RequestId = subject.RequestId,
            Features = features,
        };
    }

    public static BudgetGrant ToGrant(V1.GetBudgetResponse answer, IGrantSettlement settlement, GrantSubject subject) => new(settlement, subject)
    {
        GrantId = answer.GrantId,
        Decision = answer.Decision == V1.Decision.Reduced ? BudgetDecision.Reduced : BudgetDecision.Granted,
        Budget = answer.Budget is { } b
            ? new Budget(b.MaxOutputTokens, b.ReasoningTokens, (Effort)(int)b.Effort, b.TaskBudgetTokens)
            : new Budget(0, 0, Effort.Unspecified, 0),
        Reasons = answer.Reasons.Select(r => new BudgetReason((BudgetReasonCode)(int)r.Code, r.Text)).ToArray(),
        ProviderParameters = ToSdk(answer.ProviderParameters),
        ExpiresAt = answer.ExpiresAt?.ToDateTimeOffset(),
        PolicyVersion = answer.PolicyVersion,
        Tier = answer.Tier,
        RuleTaskType = answer.RuleTaskType,
        Quotas = answer.Quotas.Select(q => new QuotaSnapshot(
            q.QuotaId,
            (QuotaMetric)(int)q.Metric,
            (QuotaWindow)(int)q.Window,
            (QuotaScope)(int)q.Scope,
            q.Limit,
            q.Remaining,
            q.Reserved,
            q.WindowResetsAt?.ToDateTimeOffset() ?? DateTimeOffset.MinValue)).ToArray(),
        Replayed = answer.Replayed,
    };

    public static BudgetGrant FallbackGrant(TaskBudgetsFallbackOptions fallback, IGrantSettlement settlement, GrantSubject subject, BudgetServiceException cause) => new(settlement, subject)
    {
        Decision = BudgetDecision.Fallback,
        Budget = new Budget(fallback.MaxOutputTokens, fallback.ReasoningTokens, fallback.Effort, 0),
        Reasons =
        [
            new BudgetReason(
                BudgetReasonCode.Fallback,
                $"the budget service was unreachable ({cause.StatusCode}): fail-open fallback of {fallback.ReasoningTokens} reasoning / {fallback.MaxOutputTokens} output tokens, nothing reserved"),
        ],
        ProviderParameters = FallbackParameters(fallback, subject.Model),
        FallbackCause = cause,
    };

    public static V1.ReportUsageRequest ToProto(BudgetGrant grant, Usage usage, StopReason stopReason, CallOutcome outcome, TimeSpan? latency)
    {
        var report = new V1.ReportUsageRequest
        {
            Usage = new V1.UsageTokens
            {
                InputTokens = usage.InputTokens,
                CachedInputTokens = usage.CachedInputTokens,
                CacheWriteInputTokens = usage.CacheWriteInputTokens,
                OutputTokens = usage.OutputTokens,
                ReasoningTokens = usage.ReasoningTokens,
            },
            StopReason = (V1.StopReason)(int)stopReason,
            Outcome = outcome switch
            {
                CallOutcome.Failed => V1.Outcome.Failed,
                CallOutcome.Cancelled => V1.Outcome.Cancelled,
                _ => V1.Outcome.Success,
            },
            Latency = latency is { } l ? Duration.FromTimeSpan(l) : null,
        };
        if (grant.GrantId is { } grantId)
        {
            report.GrantId = grantId;
        }
        else
        {
            // A fallback grant reserved nothing: report without a grant, so the usage is still
            // accounted, keyed by the request id so that a retried report counts once.
            var s = grant.Subject;
            report.OrgId = s.OrgId;
            report.ProjectId = s.ProjectId ?? string.Empty;
            report.PrincipalId = s.PrincipalId ?? string.Empty;
            report.TaskType = s.TaskType;
            report.Model = s.Model;
            report.ReportId = s.RequestId;
        }

        return report;
    }

    public static UsageReceipt ToReceipt(V1.ReportUsageResponse answer) => new()
    {
        Recorded = true,
        Duplicate = answer.Duplicate,
        Late = answer.Late,
        OverGrant = answer.OverGrant,
        Truncated = answer.Truncated,
        CostMicros = answer.CostMicros,
        SettledAt = answer.SettledAt?.ToDateTimeOffset(),
        Quotas = answer.Quotas.Select(q => new QuotaSettlement(
            q.QuotaId,
            (QuotaMetric)(int)q.Metric,
            q.Reserved,
            q.Used,
            q.WindowStart?.ToDateTimeOffset() ?? DateTimeOffset.MinValue)).ToArray(),
    };

    private static ProviderParameters? ToSdk(V1.ProviderParameters? parameters) => parameters?.FamilyCase switch
    {
        V1.ProviderParameters.FamilyOneofCase.Anthropic => new AnthropicParameters(
            parameters.Anthropic.MaxTokens,
            parameters.Anthropic.ThinkingBudgetTokens,
            parameters.Anthropic.Effort,
            parameters.Anthropic.TaskBudgetTotal,
            parameters.Anthropic.TaskBudgetRemaining),
        V1.ProviderParameters.FamilyOneofCase.Openai => new OpenAiParameters(parameters.Openai.ReasoningEffort, parameters.Openai.MaxCompletionTokens),
        V1.ProviderParameters.FamilyOneofCase.Gemini => new GeminiParameters(parameters.Gemini.ThinkingBudget, parameters.Gemini.MaxOutputTokens),
        _ => null,
    };

    private static ProviderParameters? FallbackParameters(TaskBudgetsFallbackOptions fallback, string model)
    {
        ModelFamily? family = fallback.ModelFamilies.TryGetValue(model, out var configured) ? configured : FamilyOf(model);
        return family switch
        {
            // Manual thinking needs at least 1024 tokens and fewer than max_tokens; otherwise no thinking budget.
            ModelFamily.Anthropic => new AnthropicParameters(
                fallback.MaxOutputTokens,
                fallback.ReasoningTokens >= 1024 && fallback.ReasoningTokens < fallback.MaxOutputTokens ? fallback.ReasoningTokens : 0,
                fallback.Effort switch { Effort.Low => "low", Effort.Medium => "medium", Effort.High => "high", _ => "max" },
                0,
                0),
            ModelFamily.OpenAi => new OpenAiParameters(fallback.Effort switch { Effort.Low => "low", Effort.Medium => "medium", _ => "high" }, fallback.MaxOutputTokens),
            ModelFamily.Gemini => new GeminiParameters(fallback.ReasoningTokens, fallback.MaxOutputTokens),
            _ => null,
        };
    }

    /// <summary>The family a model's name tells, or null.</summary>
    internal static ModelFamily? FamilyOf(string model)
    {
        bool Starts(string prefix) => model.StartsWith(prefix, StringComparison.OrdinalIgnoreCase);
        if (Starts("claude"))
        {
            return ModelFamily.Anthropic;
        }

        if (Starts("gpt") || Starts("chatgpt") || Starts("o1") || Starts("o3") || Starts("o4"))
        {
            return ModelFamily.OpenAi;
        }

        return Starts("gemini") ? ModelFamily.Gemini : null;
    }
}
