using System.Globalization;
using System.Runtime.CompilerServices;
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
            });
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

    /// <summary>The decision's steps, in order, with the numbers behind them.</summary>
    // Added in place, with local functions rather than a lambda and an iterator: every GetBudget
    // maps its reasons, and those allocated a closure, a delegate and an enumerator each time.
    private static void AddReasons(RepeatedField<Reason> reasons, IssuedGrant grant)
    {
        var d = grant.Decision;
        var rule = grant.Rule;
        bool has(BudgetReasons flag) => (d.Reasons & flag) != 0;
        string F(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

        var ruleText = RuleTexts.Of(grant.Tier, rule);
        reasons.Add(has(BudgetReasons.DefaultRule)
            ? new Reason { Code = ReasonCode.DefaultRule, Text = ruleText.AsDefault }
            : new Reason { Code = ReasonCode.TierRule, Text = ruleText.AsRule });

        if (has(BudgetReasons.Adaptive))
        {
            var c = d.Calibration;
            var whose = c.OrgSpecific ? "this org's" : F($"tier '{grant.Tier}'");
            reasons.Add(new Reason
            {
                Code = ReasonCode.Adaptive,
                Text = F($"adaptive: calibrated on {c.Samples:0} samples of {whose} '{rule.TaskType}' calls (min_samples {rule.MinSamples}): base {c.BaseTokens} reasoning tokens, the tier's share of its {c.TargetTruncationRate:0.##%} truncation target"),
            });
        }

        if (has(BudgetReasons.Complexity))
        {
            reasons.Add(new Reason
            {
                Code = ReasonCode.Complexity,
                Text = has(BudgetReasons.Adaptive)
                    ? F($"the complexity hint moved the calibrated base by its learned effect (x{Math.Exp(d.Calibration.ComplexitySlope * 0.1):0.##} per +0.1)")
                    : "the complexity hint placed the budget between the rule's min and max",
            });
        }

        if (has(BudgetReasons.LongInput))
        {
            reasons.Add(new Reason { Code = ReasonCode.LongInput, Text = F($"a long input (over {BudgetDecision.LongInputThreshold} tokens) raised the budget") });
        }

        if (has(BudgetReasons.PreliminaryPhase))
        {
            reasons.Add(new Reason { Code = ReasonCode.PreliminaryPhase, Text = F($"preliminary phase: {rule.PreliminaryFraction:P0} of the budget, low effort") });
        }

        if (has(BudgetReasons.DeepPhase))
        {
            reasons.Add(new Reason { Code = ReasonCode.DeepPhase, Text = "deep phase: the rule's maximum budget" });
        }

        if (has(BudgetReasons.Priority))
        {
            reasons.Add(new Reason { Code = ReasonCode.Priority, Text = "the call's priority scaled the budget" });
        }

        if (has(BudgetReasons.Escalated))
        {
            reasons.Add(new Reason
            {
                Code = ReasonCode.Escalated,
                Text = has(BudgetReasons.Adaptive)
                    ? F($"retry after a truncated attempt: what calls truncated at the previous budget went on to need (x{d.EscalationMultiplier:0.##}), up to the rule's max {rule.MaxReasoningTokens}")
                    : F($"retry after a truncated attempt: budget x{d.EscalationMultiplier:0.##}, up to the rule's max {rule.MaxReasoningTokens}"),
            });
        }

        if (has(BudgetReasons.ClampedToRule))
        {
            reasons.Add(new Reason { Code = ReasonCode.ClampedToRule, Text = "the budget was clamped to the rule's (or the model's) bounds" });
        }

        if (has(BudgetReasons.ProviderMinimum))
        {
            reasons.Add(new Reason { Code = ReasonCode.ProviderMinimum, Text = "raised to the model's minimum thinking budget" });
        }

        if (has(BudgetReasons.SoftLimit))
        {
            reasons.Add(new Reason { Code = ReasonCode.SoftLimit, Text = F($"a quota is {d.Utilisation:P0} used, past the soft threshold {rule.SoftLimitThreshold:P0}: the budget shrinks toward the rule's min") });
        }

        if (has(BudgetReasons.QuotaCap))
        {
            var limiting = d.LimitingQuota >= 0 && d.LimitingQuota < grant.Quotas.Count ? grant.Quotas[d.LimitingQuota].Quota.Id : "a quota";
            reasons.Add(new Reason { Code = ReasonCode.QuotaCap, Text = F($"capped by what quota '{limiting}' has left") });
        }

        if (has(BudgetReasons.TaskBudget))
        {
            reasons.Add(new Reason { Code = ReasonCode.TaskBudget, Text = F($"the task has {d.TaskBudgetTokens} tokens of its budget left") });
        }
    }

    /// <summary>
    /// The reason a grant's rule gives reads the same on every grant under that rule: formatted once
    /// per rule (a policy change brings new rule objects) instead of once per GetBudget.
    /// </summary>
    private sealed record RuleTexts(string Tier, string AsRule, string AsDefault)
    {
        private static readonly ConditionalWeakTable<Budgeting.TierRule, RuleTexts> Known = [];

        public static RuleTexts Of(string tier, Budgeting.TierRule rule)
        {
            if (Known.TryGetValue(rule, out var texts) && texts.Tier == tier)
            {
                return texts;
            }

            var range = string.Create(CultureInfo.InvariantCulture, $"{rule.MinReasoningTokens}..{rule.MaxReasoningTokens} reasoning tokens, default {rule.DefaultReasoningTokens}");
            texts = new RuleTexts(
                tier,
                string.Create(CultureInfo.InvariantCulture, $"tier '{tier}' rule '{rule.TaskType}': {range}"),
                string.Create(CultureInfo.InvariantCulture, $"tier '{tier}' has no rule for this task type; its '*' rule applies ({range})"));
            Known.AddOrUpdate(rule, texts);
            return texts;
        }
    }
}
