using System.Globalization;
using Google.Protobuf.WellKnownTypes;
using TaskBudgets.Governance.Budgeting;
using TaskBudgets.Governance.Policies;
using TaskBudgets.Governance.Storage;
using TaskBudgets.V1;
using DomainFamily = TaskBudgets.Governance.Budgeting.ModelFamily;
using DomainRule = TaskBudgets.Governance.Budgeting.TierRule;
using DomainThinking = TaskBudgets.Governance.Budgeting.ThinkingMode;
using ProtoFamily = TaskBudgets.V1.ModelFamily;
using ProtoThinking = TaskBudgets.V1.ThinkingMode;
using ProtoTierRule = TaskBudgets.V1.TierRule;

namespace TaskBudgets.Governance.Admin;

/// <summary>
/// Maps admin resources between the proto contract, the policy file's entries (whose checks
/// are the one validation of rules, quotas and models) and the stored rows.
/// </summary>
public static class AdminMapping
{
    /// <summary>Proto field names of the policy file's fields where the two differ.</summary>
    private static readonly Dictionary<string, string> FieldRenames = new(StringComparer.Ordinal)
    {
        ["org.id"] = "org.org_id",
        ["quota.id"] = "quota.quota_id",
        ["model.input_usd_per_mtok"] = "model.input_micros_per_mtok",
        ["model.output_usd_per_mtok"] = "model.output_micros_per_mtok",
        ["model.cached_input_usd_per_mtok"] = "model.cached_input_micros_per_mtok",
        ["model.cache_write_usd_per_mtok"] = "model.cache_write_micros_per_mtok",
    };

    /// <summary>Turns the policy checks' "field: problem" lines into field violations named as in the proto.</summary>
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

    /// <summary>INVALID_ARGUMENT naming every field at fault, if there is any.</summary>
    public static void ThrowIfAny(List<string> errors)
    {
        ArgumentNullException.ThrowIfNull(errors);
        if (errors.Count > 0)
        {
            throw GovernanceException.Invalid(Problems(errors));
        }
    }

    public static PolicyDocument.OrgEntry ToEntry(Org org)
    {
        ArgumentNullException.ThrowIfNull(org);
        return new PolicyDocument.OrgEntry { Id = org.OrgId, DisplayName = org.DisplayName, Tier = org.Tier, Projects = [.. org.Projects] };
    }

    public static PolicyDocument.TierEntry ToEntry(Tier tier)
    {
        ArgumentNullException.ThrowIfNull(tier);
        return new PolicyDocument.TierEntry
        {
            Name = tier.Name,
            Rules = [.. tier.Rules.Select(ToEntry)],
            TargetTruncationRate = tier.TargetTruncationRate == 0 ? TierPolicy.DefaultTargetTruncationRate : tier.TargetTruncationRate,
        };
    }

    /// <summary>A rule as the admin API takes it; what it leaves unset gets <see cref="DomainRule"/>'s defaults.</summary>
    public static PolicyDocument.RuleEntry ToEntry(ProtoTierRule r)
    {
        ArgumentNullException.ThrowIfNull(r);
        return new PolicyDocument.RuleEntry
        {
            TaskType = r.TaskType,
            MinReasoningTokens = r.MinReasoningTokens,
            DefaultReasoningTokens = r.DefaultReasoningTokens,
            MaxReasoningTokens = r.MaxReasoningTokens,
            AnswerTokens = r.HasAnswerTokens ? r.AnswerTokens : DomainRule.DefaultAnswerTokens,
            MaxOutputTokens = r.MaxOutputTokens,
            Effort = EffortName(r.Effort == Effort.Unspecified ? (Effort)(int)DomainRule.DefaultEffort : r.Effort),
            EscalationFactor = r.HasEscalationFactor ? r.EscalationFactor : DomainRule.DefaultEscalationFactor,
            PreliminaryFraction = r.HasPreliminaryFraction ? r.PreliminaryFraction : DomainRule.DefaultPreliminaryFraction,
            SoftLimitThreshold = r.HasSoftLimitThreshold ? r.SoftLimitThreshold : DomainRule.DefaultSoftLimitThreshold,
            SoftLimitFloor = r.HasSoftLimitFloor ? r.SoftLimitFloor : DomainRule.DefaultSoftLimitFloor,
            TaskBudgetTokens = r.TaskBudgetTokens,
            Adaptive = r.Adaptive,
            MinSamples = r.MinSamples == 0 ? DomainRule.DefaultMinSamples : r.MinSamples,
        };
    }

    /// <summary>The proto form of a rule: every field set, defaults included.</summary>
    public static ProtoTierRule ToProto(DomainRule r)
    {
        ArgumentNullException.ThrowIfNull(r);
        return new ProtoTierRule
        {
            TaskType = r.TaskType,
            MinReasoningTokens = r.MinReasoningTokens,
            DefaultReasoningTokens = r.DefaultReasoningTokens,
            MaxReasoningTokens = r.MaxReasoningTokens,
            AnswerTokens = r.AnswerTokens,
            MaxOutputTokens = r.MaxOutputTokens,
            Effort = (Effort)(int)r.Effort,
            EscalationFactor = r.EscalationFactor,
            PreliminaryFraction = r.PreliminaryFraction,
            SoftLimitThreshold = r.SoftLimitThreshold,
            SoftLimitFloor = r.SoftLimitFloor,
            TaskBudgetTokens = r.TaskBudgetTokens,
            Adaptive = r.Adaptive,
            MinSamples = r.MinSamples,
        };
    }

    public static PolicyDocument.QuotaEntry ToEntry(Quota q)
    {
        ArgumentNullException.ThrowIfNull(q);
        return new PolicyDocument.QuotaEntry
        {
            Id = q.QuotaId.Length == 0 ? null : q.QuotaId,
            Scope = q.Scope switch
            {
                V1.QuotaScope.Org => "org",
                V1.QuotaScope.Project => "project",
                V1.QuotaScope.Principal => "principal",
                _ => string.Empty,
            },
            Subject = q.Subject,
            Metric = MetricName(q.Metric),
            Window = WindowName(q.Window),
            Limit = q.Limit,
        };
    }

    public static PolicyDocument.ModelEntry ToEntry(Model m)
    {
        ArgumentNullException.ThrowIfNull(m);
        return new PolicyDocument.ModelEntry
        {
            Name = m.Name,
            Family = m.Family switch
            {
                ProtoFamily.Anthropic => "anthropic",
                ProtoFamily.Openai => "openai",
                ProtoFamily.Gemini => "gemini",
                _ => string.Empty,
            },
            Thinking = m.Thinking switch
            {
                ProtoThinking.Unspecified => string.Empty,
                ProtoThinking.Budget => "budget",
                ProtoThinking.Effort => "effort",
                _ => "?",
            },
            MinThinkingTokens = m.HasMinThinkingTokens ? m.MinThinkingTokens : null,
            MaxThinkingTokens = m.MaxThinkingTokens,
            InputUsdPerMtok = Usd(m.InputMicrosPerMtok),
            OutputUsdPerMtok = Usd(m.OutputMicrosPerMtok),
            CachedInputUsdPerMtok = m.HasCachedInputMicrosPerMtok ? Usd(m.CachedInputMicrosPerMtok) : null,
            CacheWriteUsdPerMtok = m.HasCacheWriteMicrosPerMtok ? Usd(m.CacheWriteMicrosPerMtok) : null,
        };
    }

    public static string EffortName(Effort effort) => effort switch
    {
        Effort.Low => "low",
        Effort.Medium => "medium",
        Effort.High => "high",
        Effort.Max => "max",
        _ => ((int)effort).ToString(CultureInfo.InvariantCulture),
    };

    public static string MetricName(V1.QuotaMetric metric) => metric switch
    {
        V1.QuotaMetric.ReasoningTokens => "reasoning_tokens",
        V1.QuotaMetric.OutputTokens => "output_tokens",
        V1.QuotaMetric.TotalTokens => "total_tokens",
        V1.QuotaMetric.Requests => "requests",
        V1.QuotaMetric.CostMicros => "cost_micros",
        _ => string.Empty,
    };

    public static string WindowName(QuotaWindow window) => window switch
    {
        QuotaWindow.Minute => "minute",
        QuotaWindow.Hour => "hour",
        QuotaWindow.Day => "day",
        QuotaWindow.Month => "month",
        _ => string.Empty,
    };

    public static Org ToProto(OrgRow row)
    {
        ArgumentNullException.ThrowIfNull(row);
        var org = new Org { OrgId = row.Id, DisplayName = row.DisplayName, Tier = row.Tier };
        org.Projects.AddRange(PolicyRows.ProjectList(row.Projects));
        org.Etag = AdminChanges.Etag(org);
        return org;
    }

    public static Tier ToProto(string name, IEnumerable<TierRuleRow> rows)
    {
        var list = rows.OrderBy(r => r.TaskType, StringComparer.Ordinal).ToList();
        var tier = new Tier { Name = name, TargetTruncationRate = list.Count > 0 ? list[0].TargetTruncationRate : TierPolicy.DefaultTargetTruncationRate };
        tier.Rules.AddRange(list.Select(r => ToProto(StoredPolicy.ToRule(r))));
        tier.Etag = AdminChanges.Etag(tier);
        return tier;
    }

    public static Quota ToProto(QuotaRow row)
    {
        ArgumentNullException.ThrowIfNull(row);
        var quota = new Quota
        {
            QuotaId = row.Id,
            OrgId = row.OrgId,
            Scope = (V1.QuotaScope)row.Scope,
            Subject = row.Subject,
            Metric = (V1.QuotaMetric)row.Metric,
            Window = (QuotaWindow)row.Window,
            Limit = row.Limit,
        };
        quota.Etag = AdminChanges.Etag(quota);
        return quota;
    }

    public static Model ToProto(ModelRow row)
    {
        ArgumentNullException.ThrowIfNull(row);
        var model = new Model
        {
            Name = row.Name,
            Family = (DomainFamily)row.Family switch
            {
                DomainFamily.Anthropic => ProtoFamily.Anthropic,
                DomainFamily.OpenAi => ProtoFamily.Openai,
                _ => ProtoFamily.Gemini,
            },
            Thinking = (DomainThinking)row.Thinking == DomainThinking.Effort ? ProtoThinking.Effort : ProtoThinking.Budget,
            MinThinkingTokens = row.MinThinkingTokens,
            MaxThinkingTokens = row.MaxThinkingTokens,
            InputMicrosPerMtok = row.InputMicrosPerMillion,
            CachedInputMicrosPerMtok = row.CachedInputMicrosPerMillion,
            CacheWriteMicrosPerMtok = row.CacheWriteMicrosPerMillion,
            OutputMicrosPerMtok = row.OutputMicrosPerMillion,
        };
        model.Etag = AdminChanges.Etag(model);
        return model;
    }

    public static ApiKey ToProto(ApiKeyRow row)
    {
        ArgumentNullException.ThrowIfNull(row);
        var key = new ApiKey
        {
            KeyId = row.Id,
            Role = (ApiKeyRole)row.Role,
            OrgId = row.OrgId,
            Description = row.Description,
            CreatedBy = row.CreatedBy,
            CreateTime = Timestamp.FromDateTimeOffset(DateTimeOffset.FromUnixTimeMilliseconds(row.CreatedAtMs)),
        };
        if (row.RevokedAtMs is { } revoked)
        {
            key.RevokeTime = Timestamp.FromDateTimeOffset(DateTimeOffset.FromUnixTimeMilliseconds(revoked));
        }

        return key;
    }

    public static AuditEvent ToProto(AuditEventRow row)
    {
        ArgumentNullException.ThrowIfNull(row);
        return new AuditEvent
        {
            EventId = row.Id,
            Time = Timestamp.FromDateTimeOffset(DateTimeOffset.FromUnixTimeMilliseconds(row.AtMs)),
            ActorKeyId = row.Actor,
            Action = row.Action,
            ResourceType = row.ResourceType,
            ResourceId = row.ResourceId,
            OrgId = row.OrgId,
            BeforeJson = row.Before,
            AfterJson = row.After,
            PolicyVersion = row.PolicyVersion,
        };
    }

    private static decimal Usd(long micros) => micros / 1_000_000m;
}
