using System.Collections.Frozen;
using System.Globalization;
using Microsoft.EntityFrameworkCore;
using TaskBudgets.Governance.Budgeting;
using TaskBudgets.Governance.Policies;
using TaskBudgets.Governance.Quotas;

namespace TaskBudgets.Governance.Storage;

/// <summary>Reads the policy tables into a snapshot, and replaces them with one.</summary>
public static class PolicyRows
{
    public static async Task<long> ReadVersionAsync(GovernanceDbContext db, CancellationToken cancellationToken)
    {
        var value = await db.Settings.AsNoTracking()
            .Where(s => s.Key == SettingRow.PolicyVersion)
            .Select(s => s.Value)
            .FirstOrDefaultAsync(cancellationToken);
        return value is null ? 0 : long.Parse(value, CultureInfo.InvariantCulture);
    }

    public static async Task<bool> IsEmptyAsync(GovernanceDbContext db, CancellationToken cancellationToken) =>
        !await db.Orgs.AnyAsync(cancellationToken) && !await db.TierRules.AnyAsync(cancellationToken) && !await db.Models.AnyAsync(cancellationToken);

    public static async Task<PolicySnapshot> LoadAsync(GovernanceDbContext db, CancellationToken cancellationToken)
    {
        var version = await ReadVersionAsync(db, cancellationToken);
        var models = await db.Models.AsNoTracking().ToListAsync(cancellationToken);
        var rules = await db.TierRules.AsNoTracking().ToListAsync(cancellationToken);
        var orgs = await db.Orgs.AsNoTracking().ToListAsync(cancellationToken);
        var quotas = await db.Quotas.AsNoTracking().ToListAsync(cancellationToken);

        var tiers = rules
            .GroupBy(r => r.Tier, StringComparer.Ordinal)
            .Select(g => new TierPolicy(g.Key, g.ToFrozenDictionary(r => r.TaskType, ToRule, StringComparer.Ordinal)));
        var quotasByOrg = quotas.ToLookup(q => q.OrgId, StringComparer.Ordinal);
        var orgPolicies = orgs.Select(o => new OrgPolicy(
            o.Id,
            o.DisplayName,
            o.Tier,
            quotasByOrg[o.Id].OrderBy(q => q.Id, StringComparer.Ordinal).Select(ToQuota).ToArray()));
        return new PolicySnapshot(version, orgPolicies, tiers, models.Select(ToModel));
    }

    /// <summary>Replaces the whole policy with <paramref name="snapshot"/> and bumps the policy version.</summary>
    public static async Task<long> ReplaceAsync(GovernanceDbContext db, PolicySnapshot snapshot, CancellationToken cancellationToken)
    {
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        await db.Quotas.ExecuteDeleteAsync(cancellationToken);
        await db.Orgs.ExecuteDeleteAsync(cancellationToken);
        await db.TierRules.ExecuteDeleteAsync(cancellationToken);
        await db.Models.ExecuteDeleteAsync(cancellationToken);

        db.Models.AddRange(snapshot.Models.Values.Select(m => new ModelRow
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
        }));
        db.TierRules.AddRange(snapshot.Tiers.Values.SelectMany(t => t.Rules.Values.Select(r => new TierRuleRow
        {
            Tier = t.Name,
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
        })));
        db.Orgs.AddRange(snapshot.Orgs.Values.Select(o => new OrgRow { Id = o.Id, DisplayName = o.DisplayName, Tier = o.Tier }));
        db.Quotas.AddRange(snapshot.Orgs.Values.SelectMany(o => o.Quotas).Select(q => new QuotaRow
        {
            Id = q.Id,
            OrgId = q.OrgId,
            Scope = (int)q.Scope,
            Subject = q.Subject,
            Metric = (int)q.Metric,
            Window = (int)q.Window,
            Limit = q.Limit,
        }));
        await db.SaveChangesAsync(cancellationToken);
        var version = await BumpVersionAsync(db, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return version;
    }

    /// <summary>Every change to the policy bumps its version, which grants report and replicas poll.</summary>
    public static async Task<long> BumpVersionAsync(GovernanceDbContext db, CancellationToken cancellationToken)
    {
        var next = await ReadVersionAsync(db, cancellationToken) + 1;
        var text = next.ToString(CultureInfo.InvariantCulture);
        var updated = await db.Settings
            .Where(s => s.Key == SettingRow.PolicyVersion)
            .ExecuteUpdateAsync(s => s.SetProperty(r => r.Value, text), cancellationToken);
        if (updated == 0)
        {
            db.Settings.Add(new SettingRow { Key = SettingRow.PolicyVersion, Value = text });
            await db.SaveChangesAsync(cancellationToken);
        }

        return next;
    }

    private static TierRule ToRule(TierRuleRow r) => new()
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
    };

    private static QuotaDefinition ToQuota(QuotaRow q) => new()
    {
        Id = q.Id,
        OrgId = q.OrgId,
        Scope = (QuotaScope)q.Scope,
        Subject = q.Subject,
        Metric = (QuotaMetric)q.Metric,
        Window = (WindowKind)q.Window,
        Limit = q.Limit,
    };

    private static ModelSpec ToModel(ModelRow m) => new()
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
