using TaskBudgets.Governance.Budgeting;
using TaskBudgets.Governance.Policies;
using TaskBudgets.Governance.Quotas;
using TaskBudgets.Policies;
using TaskBudgets.V1;
using ProtoFamily = TaskBudgets.V1.ModelFamily;
using ProtoThinking = TaskBudgets.V1.ThinkingMode;
using ProtoTierRule = TaskBudgets.V1.TierRule;

namespace TaskBudgets.Governance.Admin;

/// <summary>
/// Checks the orgs, tiers, quotas and models the admin API is given with the policy library's
/// checks, the same ones a policy file passes, fed with the message's plain values. A problem is
/// INVALID_ARGUMENT naming every field at fault as the proto names it.
/// </summary>
public static class AdminChecks
{
    /// <summary>Proto field names of the checks' fields where the two differ.</summary>
    private static readonly Dictionary<string, string> FieldRenames = new(StringComparer.Ordinal)
    {
        ["org.id"] = "org.org_id",
        ["quota.id"] = "quota.quota_id",
        ["model.input_usd_per_mtok"] = "model.input_micros_per_mtok",
        ["model.output_usd_per_mtok"] = "model.output_micros_per_mtok",
        ["model.cached_input_usd_per_mtok"] = "model.cached_input_micros_per_mtok",
        ["model.cache_write_usd_per_mtok"] = "model.cache_write_micros_per_mtok",
    };

    /// <summary>Checks an org's own fields; its tier is checked against the tiers in the database.</summary>
    /// <exception cref="GovernanceException">INVALID_ARGUMENT.</exception>
    public static void CheckOrg(Org org)
    {
        ArgumentNullException.ThrowIfNull(org);
        var errors = new List<string>();
        PolicyChecks.Org(errors, "org", org.OrgId, org.DisplayName, org.Tier, org.Projects, knownTiers: null);
        ThrowIfAny(errors);
    }

    /// <summary>Checks a tier and its rules, unset optional rule fields taken as the policy file's defaults.</summary>
    /// <exception cref="GovernanceException">INVALID_ARGUMENT.</exception>
    public static TierPolicy CheckTier(Tier tier)
    {
        ArgumentNullException.ThrowIfNull(tier);
        var errors = new List<string>();
        var rate = tier.TargetTruncationRate == 0 ? CheckedTier.DefaultTargetTruncationRate : tier.TargetTruncationRate;
        var checkedTier = PolicyChecks.Tier(errors, "tier", tier.Name, rate, tier.Rules, (rule, at) => PolicyChecks.Rule(errors, at, ToValues(rule)));
        ThrowIfAny(errors);
        return CheckedPolicyMapping.ToTier(checkedTier);
    }

    /// <summary>Checks a quota, which must name its org; without an id it gets the derived one.</summary>
    /// <exception cref="GovernanceException">INVALID_ARGUMENT.</exception>
    public static QuotaDefinition CheckQuota(Quota quota)
    {
        ArgumentNullException.ThrowIfNull(quota);
        var errors = new List<string>();
        if (quota.OrgId.Length == 0)
        {
            errors.Add("quota.org_id: is required");
        }

        var scope = quota.Scope switch
        {
            V1.QuotaScope.Org => "org",
            V1.QuotaScope.Project => "project",
            V1.QuotaScope.Principal => "principal",
            _ => string.Empty,
        };
        var checkedQuota = PolicyChecks.Quota(
            errors,
            "quota",
            quota.OrgId,
            quota.QuotaId.Length == 0 ? null : quota.QuotaId,
            scope,
            quota.Subject,
            Name(quota.Metric),
            Name(quota.Window),
            quota.Limit);
        ThrowIfAny(errors);
        return CheckedPolicyMapping.ToQuota(checkedQuota!);
    }

    /// <summary>Checks a model; its prices are micro-USD, checked as the file's USD.</summary>
    /// <exception cref="GovernanceException">INVALID_ARGUMENT.</exception>
    public static ModelSpec CheckModel(Model model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var errors = new List<string>();
        var checkedModel = PolicyChecks.Model(
            errors,
            "model",
            model.Name,
            family: model.Family switch
            {
                ProtoFamily.Anthropic => "anthropic",
                ProtoFamily.Openai => "openai",
                ProtoFamily.Gemini => "gemini",
                _ => string.Empty,
            },
            thinking: model.Thinking switch
            {
                ProtoThinking.Unspecified => string.Empty,
                ProtoThinking.Budget => "budget",
                ProtoThinking.Effort => "effort",
                _ => "?",
            },
            minThinkingTokens: model.HasMinThinkingTokens ? model.MinThinkingTokens : null,
            maxThinkingTokens: model.MaxThinkingTokens,
            inputUsdPerMtok: Usd(model.InputMicrosPerMtok),
            outputUsdPerMtok: Usd(model.OutputMicrosPerMtok),
            cachedInputUsdPerMtok: model.HasCachedInputMicrosPerMtok ? Usd(model.CachedInputMicrosPerMtok) : null,
            cacheWriteUsdPerMtok: model.HasCacheWriteMicrosPerMtok ? Usd(model.CacheWriteMicrosPerMtok) : null);
        ThrowIfAny(errors);
        return CheckedPolicyMapping.ToModel(checkedModel!);
    }

    /// <summary>Turns the checks' "field: problem" lines into field violations named as in the proto.</summary>
    public static List<FieldProblem> Problems(IEnumerable<string> errors)
    {
        ArgumentNullException.ThrowIfNull(errors);
        var problems = new List<FieldProblem>();
        foreach (var error in errors)
        {
            var colon = error.IndexOf(": ", StringComparison.Ordinal);
            var field = colon > 0 ? error[..colon] : string.Empty;
            var description = colon > 0 ? error[(colon + 2)..] : error;
            problems.Add(new FieldProblem(FieldRenames.GetValueOrDefault(field, field), description));
        }

        return problems;
    }

    private static void ThrowIfAny(List<string> errors)
    {
        if (errors.Count > 0)
        {
            throw GovernanceException.Invalid(Problems(errors));
        }
    }

    /// <summary>A rule's values, the API's unset optional fields taken as the policy file's defaults.</summary>
    private static CheckedRule ToValues(ProtoTierRule r) => new()
    {
        TaskType = r.TaskType,
        MinReasoningTokens = r.MinReasoningTokens,
        DefaultReasoningTokens = r.DefaultReasoningTokens,
        MaxReasoningTokens = r.MaxReasoningTokens,
        AnswerTokens = r.HasAnswerTokens ? r.AnswerTokens : CheckedRule.DefaultAnswerTokens,
        MaxOutputTokens = r.MaxOutputTokens,
        Effort = r.Effort switch
        {
            Effort.Unspecified => CheckedRule.DefaultEffort,
            Effort.Low => PolicyEffort.Low,
            Effort.Medium => PolicyEffort.Medium,
            Effort.High => PolicyEffort.High,
            Effort.Max => PolicyEffort.Max,

            // A value the API does not define stays undefined: the rule check reports it by number.
            _ => (PolicyEffort)(int)r.Effort,
        },
        EscalationFactor = r.HasEscalationFactor ? r.EscalationFactor : CheckedRule.DefaultEscalationFactor,
        PreliminaryFraction = r.HasPreliminaryFraction ? r.PreliminaryFraction : CheckedRule.DefaultPreliminaryFraction,
        SoftLimitThreshold = r.HasSoftLimitThreshold ? r.SoftLimitThreshold : CheckedRule.DefaultSoftLimitThreshold,
        SoftLimitFloor = r.HasSoftLimitFloor ? r.SoftLimitFloor : CheckedRule.DefaultSoftLimitFloor,
        TaskBudgetTokens = r.TaskBudgetTokens,
        Adaptive = r.Adaptive,
        MinSamples = r.MinSamples == 0 ? CheckedRule.DefaultMinSamples : r.MinSamples,
    };

    private static string Name(V1.QuotaMetric metric) => metric switch
    {
        V1.QuotaMetric.ReasoningTokens => "reasoning_tokens",
        V1.QuotaMetric.OutputTokens => "output_tokens",
        V1.QuotaMetric.TotalTokens => "total_tokens",
        V1.QuotaMetric.Requests => "requests",
        V1.QuotaMetric.CostMicros => "cost_micros",
        _ => string.Empty,
    };

    private static string Name(QuotaWindow window) => window switch
    {
        QuotaWindow.Minute => "minute",
        QuotaWindow.Hour => "hour",
        QuotaWindow.Day => "day",
        QuotaWindow.Month => "month",
        _ => string.Empty,
    };

    private static decimal Usd(long micros) => micros / 1_000_000m;
}
