using TaskBudgets.Policies;
using TaskBudgets.V1;

namespace TaskBudgets.Cli;

/// <summary>
/// A policy file's checked values as the admin API's messages, etag included, built as the server
/// reads them back from its tables (rules in task-type order, every optional field set), so a
/// resource that matches the file has the same etag.
/// </summary>
internal static class PolicyProtos
{
    public static Model ToProto(CheckedModel m)
    {
        var model = new Model
        {
            Name = m.Name,
            Family = m.Family switch
            {
                PolicyFamily.Anthropic => ModelFamily.Anthropic,
                PolicyFamily.OpenAi => ModelFamily.Openai,
                _ => ModelFamily.Gemini,
            },
            Thinking = m.Thinking == PolicyThinking.Effort ? ThinkingMode.Effort : ThinkingMode.Budget,
            MinThinkingTokens = m.MinThinkingTokens,
            MaxThinkingTokens = m.MaxThinkingTokens,
            InputMicrosPerMtok = m.InputMicrosPerMillion,
            CachedInputMicrosPerMtok = m.CachedInputMicrosPerMillion,
            CacheWriteMicrosPerMtok = m.CacheWriteMicrosPerMillion,
            OutputMicrosPerMtok = m.OutputMicrosPerMillion,
        };
        model.Etag = ResourceEtag.Of(model);
        return model;
    }

    public static Tier ToProto(CheckedTier t)
    {
        var tier = new Tier { Name = t.Name, TargetTruncationRate = t.TargetTruncationRate };
        tier.Rules.AddRange(t.Rules.OrderBy(r => r.TaskType, StringComparer.Ordinal).Select(ToProto));
        tier.Etag = ResourceEtag.Of(tier);
        return tier;
    }

    public static Org ToProto(CheckedOrg o)
    {
        var org = new Org { OrgId = o.Id, DisplayName = o.DisplayName, Tier = o.Tier };
        org.Projects.AddRange(o.Projects);
        org.Etag = ResourceEtag.Of(org);
        return org;
    }

    public static Quota ToProto(CheckedQuota q)
    {
        var quota = new Quota
        {
            QuotaId = q.Id,
            OrgId = q.OrgId,
            Scope = q.Scope switch
            {
                PolicyScope.Org => QuotaScope.Org,
                PolicyScope.Project => QuotaScope.Project,
                _ => QuotaScope.Principal,
            },
            Subject = q.Subject,
            Metric = q.Metric switch
            {
                PolicyMetric.ReasoningTokens => QuotaMetric.ReasoningTokens,
                PolicyMetric.OutputTokens => QuotaMetric.OutputTokens,
                PolicyMetric.TotalTokens => QuotaMetric.TotalTokens,
                PolicyMetric.Requests => QuotaMetric.Requests,
                _ => QuotaMetric.CostMicros,
            },
            Window = q.Window switch
            {
                PolicyWindow.Minute => QuotaWindow.Minute,
                PolicyWindow.Hour => QuotaWindow.Hour,
                PolicyWindow.Day => QuotaWindow.Day,
                _ => QuotaWindow.Month,
            },
            Limit = q.Limit,
        };
        quota.Etag = ResourceEtag.Of(quota);
        return quota;
    }

    private static TierRule ToProto(CheckedRule r) => new()
    {
        TaskType = r.TaskType,
        MinReasoningTokens = r.MinReasoningTokens,
        DefaultReasoningTokens = r.DefaultReasoningTokens,
        MaxReasoningTokens = r.MaxReasoningTokens,
        AnswerTokens = r.AnswerTokens,
        MaxOutputTokens = r.MaxOutputTokens,
        Effort = r.Effort switch
        {
            PolicyEffort.Low => Effort.Low,
            PolicyEffort.Medium => Effort.Medium,
            PolicyEffort.High => Effort.High,
            _ => Effort.Max,
        },
        EscalationFactor = r.EscalationFactor,
        PreliminaryFraction = r.PreliminaryFraction,
        SoftLimitThreshold = r.SoftLimitThreshold,
        SoftLimitFloor = r.SoftLimitFloor,
        TaskBudgetTokens = r.TaskBudgetTokens,
        Adaptive = r.Adaptive,
        MinSamples = r.MinSamples,
    };
}
