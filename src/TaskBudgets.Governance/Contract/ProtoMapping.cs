using Google.Protobuf.Collections;
using Google.Protobuf.WellKnownTypes;
using TaskBudgets.Governance.Budgeting;
using TaskBudgets.Governance.Grants;
using TaskBudgets.Governance.Quotas;
using TaskBudgets.V1;
using DomainMetric = TaskBudgets.Governance.Budgeting.QuotaMetric;
using ModelFamily = TaskBudgets.Governance.Budgeting.ModelFamily;
using DomainScope = TaskBudgets.Governance.Budgeting.QuotaScope;
using ProtoMetric = TaskBudgets.V1.QuotaMetric;
using ProtoScope = TaskBudgets.V1.QuotaScope;

namespace TaskBudgets.Governance.Contract;

/// <summary>Maps between the proto contract and the domain; no decisions here.</summary>
public static class ProtoMapping
{
    public static GrantRequest ToDomain(GetBudgetRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var f = request.Features ?? new TaskFeatures();
        var features = new CallFeatures(
            f.HasComplexity ? f.Complexity : null,
            f.EstimatedInputTokens,
            Math.Max(1, f.Attempt),
            f.PreviousStopReason == StopReason.MaxTokens,
            f.Phase switch
            {
                Phase.Preliminary => CallPhase.Preliminary,
                Phase.Deep => CallPhase.Deep,
                _ => CallPhase.Standard,
            },
            f.Priority switch
            {
                Priority.Low => CallPriority.Low,
                Priority.High => CallPriority.High,
                _ => CallPriority.Normal,
            })
        {
            PreviousReasoningTokens = f.PreviousReasoningTokens,
        };
        return new GrantRequest(request.OrgId, request.ProjectId, request.PrincipalId, request.TaskType, request.Model, features, request.RequestId, request.TaskId);
    }

    public static GetBudgetResponse ToProto(IssuedGrant grant, bool replayed)
    {
        ArgumentNullException.ThrowIfNull(grant);
        var d = grant.Decision;
        var response = new GetBudgetResponse
        {
            Decision = d.Kind == DecisionKind.Reduced ? Decision.Reduced : Decision.Granted,
            Budget = new Budget
            {
                MaxOutputTokens = d.MaxOutputTokens,
                ReasoningTokens = d.ReasoningTokens,
                Effort = (Effort)(int)d.Effort,
                TaskBudgetTokens = d.TaskBudgetTokens,
            },
            GrantId = grant.Token,
            ExpiresAt = Timestamp.FromDateTimeOffset(grant.ExpiresAt),
            PolicyVersion = grant.PolicyVersion,
            ProviderParameters = ToProto(grant.Provider),
            Tier = grant.Tier,
            RuleTaskType = grant.Rule.TaskType,
            Replayed = replayed,
        };
        AddReasons(response.Reasons, grant);
        foreach (var q in grant.Quotas)
        {
            response.Quotas.Add(new QuotaSnapshot
            {
                QuotaId = q.Quota.Id,
                Metric = ToProto(q.Quota.Metric),
                Window = (QuotaWindow)(int)q.Quota.Window,
                Scope = q.Quota.Scope switch
                {
                    DomainScope.Project => ProtoScope.Project,
                    DomainScope.Principal => ProtoScope.Principal,
                    _ => ProtoScope.Org,
                },
                Limit = q.Quota.Limit,
                Remaining = q.Remaining,
                Reserved = q.Reserved,
                WindowResetsAt = Timestamp.FromDateTimeOffset(q.WindowEnd),
            });
        }

        return response;
    }

    public static UsageReport ToDomain(ReportUsageRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var u = request.Usage ?? new UsageTokens();
        return new UsageReport(
            request.GrantId,
            new Usage(u.InputTokens, u.CachedInputTokens, u.CacheWriteInputTokens, u.OutputTokens, u.ReasoningTokens),
            (int)request.StopReason,
            request.StopReason == StopReason.MaxTokens,
            (int)request.Outcome,
            request.Latency?.ToTimeSpan() ?? TimeSpan.Zero,
            request.OrgId,
            request.ProjectId,
            request.PrincipalId,
            request.TaskType,
            request.Model,
            request.ReportId);
    }

    public static ReportUsageResponse ToProto(SettlementResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        var response = new ReportUsageResponse
        {
            Duplicate = result.Duplicate,
            Late = result.Late,
            OverGrant = result.OverGrant,
            Truncated = result.Truncated,
            CostMicros = result.CostMicros,
            SettledAt = Timestamp.FromDateTimeOffset(result.SettledAt),
        };
        foreach (var q in result.Quotas)
        {
            response.Quotas.Add(new QuotaSettlement
            {
                QuotaId = q.QuotaId,
                Metric = ToProto(q.Metric),
                Reserved = q.Reserved,
                Used = q.Used,
                WindowStart = Timestamp.FromDateTimeOffset(DateTimeOffset.FromUnixTimeSeconds(q.WindowStartUnix)),
            });
        }

        return response;
    }

    private static ProtoMetric ToProto(DomainMetric metric) => (ProtoMetric)(int)metric;

    private static V1.ProviderParameters ToProto(Budgeting.ProviderParameters p) => p.Family switch
    {
        ModelFamily.Anthropic => new V1.ProviderParameters
        {
            Anthropic = new AnthropicParameters
            {
                MaxTokens = p.MaxTokens,
                ThinkingBudgetTokens = p.ThinkingBudget,
                Effort = p.Effort,
                TaskBudgetTotal = p.TaskBudgetTotal,
                TaskBudgetRemaining = p.TaskBudgetRemaining,
            },
        },
        ModelFamily.OpenAi => new V1.ProviderParameters
        {
            Openai = new OpenAiParameters { ReasoningEffort = p.Effort, MaxCompletionTokens = p.MaxTokens },
        },
        _ => new V1.ProviderParameters
        {
            Gemini = new GeminiParameters { ThinkingBudget = p.ThinkingBudget, MaxOutputTokens = p.MaxTokens },
        },
    };

    /// <summary>The decision's steps, in order, with the numbers behind them (<see cref="DecisionReasons"/>).</summary>
    private static void AddReasons(RepeatedField<Reason> reasons, IssuedGrant grant)
    {
        var limiting = grant.Decision.LimitingQuota;
        var limitingQuotaId = limiting >= 0 && limiting < grant.Quotas.Count ? grant.Quotas[limiting].Quota.Id : null;
        foreach (var reason in new DecisionReasons(grant.Decision, grant.Tier, grant.Rule, limitingQuotaId))
        {
            reasons.Add(new Reason { Code = ToProto(reason.Step), Text = reason.Text });
        }
    }

    private static ReasonCode ToProto(BudgetReasons step) => step switch
    {
        BudgetReasons.TierRule => ReasonCode.TierRule,
        BudgetReasons.DefaultRule => ReasonCode.DefaultRule,
        BudgetReasons.Complexity => ReasonCode.Complexity,
        BudgetReasons.LongInput => ReasonCode.LongInput,
        BudgetReasons.PreliminaryPhase => ReasonCode.PreliminaryPhase,
        BudgetReasons.DeepPhase => ReasonCode.DeepPhase,
        BudgetReasons.Priority => ReasonCode.Priority,
        BudgetReasons.Escalated => ReasonCode.Escalated,
        BudgetReasons.ClampedToRule => ReasonCode.ClampedToRule,
        BudgetReasons.SoftLimit => ReasonCode.SoftLimit,
        BudgetReasons.QuotaCap => ReasonCode.QuotaCap,
        BudgetReasons.TaskBudget => ReasonCode.TaskBudget,
        BudgetReasons.ProviderMinimum => ReasonCode.ProviderMinimum,
        BudgetReasons.Adaptive => ReasonCode.Adaptive,
        BudgetReasons.Exploration => ReasonCode.Exploration,
        BudgetReasons.Recalibrating => ReasonCode.Recalibrating,
        _ => ReasonCode.Unspecified,
    };
}
