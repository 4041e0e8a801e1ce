using System.Collections.Frozen;
using TaskBudgets.Governance.Budgeting;
using TaskBudgets.Governance.Quotas;
using TaskBudgets.Governance.Storage;

namespace TaskBudgets.Governance.Policies;

/// <summary>The policy as the database holds it: a snapshot to rows and back.</summary>
public static class StoredPolicy
{
    public static async Task<PolicySnapshot> LoadAsync(GovernanceDbContext db, CancellationToken cancellationToken) =>
        ToSnapshot(await PolicyRows.ReadAllAsync(db, cancellationToken));

    /// <summary>Replaces the whole policy with <paramref name="snapshot"/> and bumps the policy version.</summary>
    public static Task<long> ReplaceAsync(GovernanceDbContext db, PolicySnapshot snapshot, CancellationToken cancellationToken) =>
        PolicyRows.ReplaceAsync(db, ToTables(snapshot), cancellationToken);

    public static PolicySnapshot ToSnapshot(PolicyTables tables)
    {
        ArgumentNullException.ThrowIfNull(tables);
        var tiers = tables.TierRules
            .GroupBy(r => r.Tier, StringComparer.Ordinal)
            .Select(g => new TierPolicy(g.Key, g.ToFrozenDictionary(r => r.TaskType, ToRule, StringComparer.Ordinal))
            {
                TargetTruncationRate = g.First().TargetTruncationRate,
            });
        var quotasByOrg = tables.Quotas.ToLookup(q => q.OrgId, StringComparer.Ordinal);
        var orgs = tables.Orgs.Select(o => new OrgPolicy(
            o.Id,
            o.DisplayName,
            o.Tier,
            quotasByOrg[o.Id].OrderBy(q => q.Id, StringComparer.Ordinal).Select(ToQuota).ToArray())
        {
            Projects = PolicyRows.ProjectList(o.Projects),
        });
        return new PolicySnapshot(tables.Version, orgs, tiers, tables.Models.Select(ToModel));
    }

    public static PolicyTables ToTables(PolicySnapshot snapshot)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        return new PolicyTables(
            snapshot.Version,
            [.. snapshot.Models.Values.Select(ToRow)],
            [.. snapshot.Tiers.Values.SelectMany(t => t.Rules.Values.Select(r => ToRow(t, r)))],
            [.. snapshot.Orgs.Values.Select(o => new OrgRow { Id = o.Id, DisplayName = o.DisplayName, Tier = o.Tier, Projects = PolicyRows.ProjectJson(o.Projects) })],
            [.. snapshot.Orgs.Values.SelectMany(o => o.Quotas).Select(ToRow)]);
    }

    public static ModelRow ToRow(ModelSpec m)
    {
        ArgumentNullException.ThrowIfNull(m);
        return new ModelRow
        {
            Name = m.Name,
            Family = (int)m.Family,
            Thinking = (int)m.Thinking,
            MinThinkingTokens = m.MinThinkingTokens,
            MaxThinkingTokens = m.MaxThinkingTokens,
            InputMicrosPerMillion = m.InputMicrosPerMillion,
            CachedInputMicrosPerMillion = m.CachedInputMicrosPerMillion,
            CacheWriteMicrosPerMillion = m.CacheWriteMicrosPerMillion,
            OutputMicrosPerMillion = m.OutputMicrosPerMillion,
        };
    }

    public static TierRuleRow ToRow(TierPolicy tier, TierRule r)
    {
        ArgumentNullException.ThrowIfNull(tier);
        ArgumentNullException.ThrowIfNull(r);
        return new TierRuleRow
        {
            Tier = tier.Name,
            TargetTruncationRate = tier.TargetTruncationRate,
            Adaptive = r.Adaptive,
            MinSamples = r.MinSamples,
            TaskType = r.TaskType,
            MinReasoningTokens = r.MinReasoningTokens,
            DefaultReasoningTokens = r.DefaultReasoningTokens,
            MaxReasoningTokens = r.MaxReasoningTokens,
            AnswerTokens = r.AnswerTokens,
            MaxOutputTokens = r.MaxOutputTokens,
            Effort = (int)r.Effort,
            EscalationFactor = r.EscalationFactor,
            PreliminaryFraction = r.PreliminaryFraction,
            SoftLimitThreshold = r.SoftLimitThreshold,
            SoftLimitFloor = r.SoftLimitFloor,
            TaskBudgetTokens = r.TaskBudgetTokens,
        };
    }

    public static TierRule ToRule(TierRuleRow r) => new()
    {
        TaskType = r.TaskType,
        MinReasoningTokens = r.MinReasoningTokens,
        DefaultReasoningTokens = r.DefaultReasoningTokens,
        MaxReasoningTokens = r.MaxReasoningTokens,
        AnswerTokens = r.AnswerTokens,
        MaxOutputTokens = r.MaxOutputTokens,
        Effort = (ReasoningEffort)r.Effort,
        EscalationFactor = r.EscalationFactor,
        PreliminaryFraction = r.PreliminaryFraction,
        SoftLimitThreshold = r.SoftLimitThreshold,
        SoftLimitFloor = r.SoftLimitFloor,
        TaskBudgetTokens = r.TaskBudgetTokens,
        Adaptive = r.Adaptive,
        MinSamples = r.MinSamples,
    };

    public static QuotaRow ToRow(QuotaDefinition q)
    {
        ArgumentNullException.ThrowIfNull(q);
        return new QuotaRow
        {
            Id = q.Id,
            OrgId = q.OrgId,
            Scope = (int)q.Scope,
            Subject = q.Subject,
            Metric = (int)q.Metric,
            Window = (int)q.Window,
            Limit = q.Limit,
        };
    }

    public static QuotaDefinition ToQuota(QuotaRow q) => new()
    {
        Id = q.Id,
        OrgId = q.OrgId,
        Scope = (QuotaScope)q.Scope,
        Subject = q.Subject,
        Metric = (QuotaMetric)q.Metric,
        Window = (WindowKind)q.Window,
        Limit = q.Limit,
    };

    public static ModelSpec ToModel(ModelRow m) => new()
    {
        Name = m.Name,
        Family = (ModelFamily)m.Family,
        Thinking = (ThinkingMode)m.Thinking,
        MinThinkingTokens = m.MinThinkingTokens,
        MaxThinkingTokens = m.MaxThinkingTokens,
        InputMicrosPerMillion = m.InputMicrosPerMillion,
        CachedInputMicrosPerMillion = m.CachedInputMicrosPerMillion,
        CacheWriteMicrosPerMillion = m.CacheWriteMicrosPerMillion,
        OutputMicrosPerMillion = m.OutputMicrosPerMillion,
    };
}
