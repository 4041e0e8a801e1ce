using Google.Protobuf.WellKnownTypes;
using TaskBudgets.Governance.Budgeting;
using TaskBudgets.Governance.Policies;
using TaskBudgets.Governance.Storage;
using TaskBudgets.V1;
using DomainFamily = TaskBudgets.Governance.Budgeting.ModelFamily;
using DomainThinking = TaskBudgets.Governance.Budgeting.ThinkingMode;
using ProtoFamily = TaskBudgets.V1.ModelFamily;
using ProtoThinking = TaskBudgets.V1.ThinkingMode;
using ProtoTierRule = TaskBudgets.V1.TierRule;

namespace TaskBudgets.Governance.Admin;

/// <summary>Maps admin resources between the proto contract and the stored rows.</summary>
public static class AdminMapping
{
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

    public static ProtoTierRule ToProto(Budgeting.TierRule r)
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
}
