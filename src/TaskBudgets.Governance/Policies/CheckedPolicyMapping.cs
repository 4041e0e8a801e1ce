using System.Collections.Frozen;
using TaskBudgets.Governance.Budgeting;
using TaskBudgets.Governance.Quotas;
using TaskBudgets.Policies;

namespace TaskBudgets.Governance.Policies;

/// <summary>
/// The policy library's checked values as the domain's policy. The library knows nothing of the
/// server, so this is where its vocabulary meets the domain's.
/// </summary>
public static class CheckedPolicyMapping
{
    /// <summary>Checks a policy file and turns it into the domain's policy at <paramref name="version"/>.</summary>
    /// <exception cref="PolicyException">The document has at least one problem.</exception>
    public static PolicySnapshot ToSnapshot(this PolicyDocument document, long version)
    {
        ArgumentNullException.ThrowIfNull(document);
        return ToSnapshot(document.Check(), version);
    }

    public static PolicySnapshot ToSnapshot(CheckedPolicy policy, long version)
    {
        ArgumentNullException.ThrowIfNull(policy);
        return new PolicySnapshot(version, policy.Orgs.Select(ToOrg), policy.Tiers.Select(ToTier), policy.Models.Select(ToModel));
    }

    public static ModelSpec ToModel(CheckedModel m)
    {
        ArgumentNullException.ThrowIfNull(m);
        return new ModelSpec
        {
            Name = m.Name,
            Family = m.Family switch
            {
                PolicyFamily.Anthropic => ModelFamily.Anthropic,
                PolicyFamily.OpenAi => ModelFamily.OpenAi,
                PolicyFamily.Gemini => ModelFamily.Gemini,
                _ => throw new ArgumentOutOfRangeException(nameof(m), m.Family, "unchecked model family"),
            },
            Thinking = m.Thinking == PolicyThinking.Effort ? ThinkingMode.Effort : ThinkingMode.Budget,
            MinThinkingTokens = m.MinThinkingTokens,
            MaxThinkingTokens = m.MaxThinkingTokens,
            InputMicrosPerMillion = m.InputMicrosPerMillion,
            CachedInputMicrosPerMillion = m.CachedInputMicrosPerMillion,
            CacheWriteMicrosPerMillion = m.CacheWriteMicrosPerMillion,
            OutputMicrosPerMillion = m.OutputMicrosPerMillion,
        };
    }

    public static TierPolicy ToTier(CheckedTier tier)
    {
        ArgumentNullException.ThrowIfNull(tier);
        return new TierPolicy(tier.Name, tier.Rules.ToFrozenDictionary(r => r.TaskType, ToRule, StringComparer.Ordinal))
        {
            TargetTruncationRate = tier.TargetTruncationRate,
        };
    }

    public static TierRule ToRule(CheckedRule r)
    {
        ArgumentNullException.ThrowIfNull(r);
        return new TierRule
        {
            TaskType = r.TaskType,
            MinReasoningTokens = r.MinReasoningTokens,
            DefaultReasoningTokens = r.DefaultReasoningTokens,
            MaxReasoningTokens = r.MaxReasoningTokens,
            AnswerTokens = r.AnswerTokens,
            MaxOutputTokens = r.MaxOutputTokens,
            Effort = r.Effort switch
            {
                PolicyEffort.Low => ReasoningEffort.Low,
                PolicyEffort.Medium => ReasoningEffort.Medium,
                PolicyEffort.High => ReasoningEffort.High,
                PolicyEffort.Max => ReasoningEffort.Max,
                _ => throw new ArgumentOutOfRangeException(nameof(r), r.Effort, "unchecked effort"),
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

    public static OrgPolicy ToOrg(CheckedOrg org)
    {
        ArgumentNullException.ThrowIfNull(org);
        return new OrgPolicy(org.Id, org.DisplayName, org.Tier, [.. org.Quotas.Select(ToQuota)]) { Projects = org.Projects };
    }

    public static QuotaDefinition ToQuota(CheckedQuota q)
    {
        ArgumentNullException.ThrowIfNull(q);
        return new QuotaDefinition
        {
            Id = q.Id,
            OrgId = q.OrgId,
            Scope = q.Scope switch
            {
                PolicyScope.Org => QuotaScope.Org,
                PolicyScope.Project => QuotaScope.Project,
                PolicyScope.Principal => QuotaScope.Principal,
                _ => throw new ArgumentOutOfRangeException(nameof(q), q.Scope, "unchecked quota scope"),
            },
            Subject = q.Subject,
            Metric = q.Metric switch
            {
                PolicyMetric.ReasoningTokens => QuotaMetric.ReasoningTokens,
                PolicyMetric.OutputTokens => QuotaMetric.OutputTokens,
                PolicyMetric.TotalTokens => QuotaMetric.TotalTokens,
                PolicyMetric.Requests => QuotaMetric.Requests,
                PolicyMetric.CostMicros => QuotaMetric.CostMicros,
                _ => throw new ArgumentOutOfRangeException(nameof(q), q.Metric, "unchecked quota metric"),
            },
            Window = q.Window switch
            {
                PolicyWindow.Minute => WindowKind.Minute,
                PolicyWindow.Hour => WindowKind.Hour,
                PolicyWindow.Day => WindowKind.Day,
                PolicyWindow.Month => WindowKind.Month,
                _ => throw new ArgumentOutOfRangeException(nameof(q), q.Window, "unchecked quota window"),
            },
            Limit = q.Limit,
        };
    }
}
