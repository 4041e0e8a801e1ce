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
            .Select(g => new TierPolicy(g.Key, g.ToFrozenDictionary(r => r.TaskType, ToRule, StringComparer.Ordinal))
            {
                TargetTruncationRate = g.First().TargetTruncationRate,
            });
        var quotasByOrg = quotas.ToLookup(q => q.OrgId, StringComparer.Ordinal);
        var orgPolicies = orgs.Select(o => new OrgPolicy(
            o.Id,
            o.DisplayName,
            o.Tier,
            quotasByOrg[o.Id].OrderBy(q => q.Id, StringComparer.Ordinal).Select(ToQuota).ToArray())
        {
            Projects = ProjectList(o.Projects),
        });
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

        db.Models.AddRange(snapshot.Models.Values.Select(ToRow));
        db.TierRules.AddRange(snapshot.Tiers.Values.SelectMany(t => t.Rules.Values.Select(r => ToRow(t, r))));
        db.Orgs.AddRange(snapshot.Orgs.Values.Select(o => new OrgRow { Id = o.Id, DisplayName = o.DisplayName, Tier = o.Tier, Projects = ProjectJson(o.Projects) }));
        db.Quotas.AddRange(snapshot.Orgs.Values.SelectMany(o => o.Quotas).Select(ToRow));
        await db.SaveChangesAsync(cancellationToken);
        var version = await BumpVersionAsync(db, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return version;
    }

    /// <summary>
    /// Moves the policy version from <paramref name="expected"/> to the next one in one conditional
    /// update; false when another change moved it first. Run first in a change's transaction, it also
    /// serialises changes: the row stays locked until the transaction ends.
    /// </summary>
    public static async Task<bool> TryBumpVersionAsync(GovernanceDbContext db, long expected, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        var current = expected.ToString(CultureInfo.InvariantCulture);
        var next = (expected + 1).ToString(CultureInfo.InvariantCulture);
        var updated = await db.Settings
            .Where(s => s.Key == SettingRow.PolicyVersion && s.Value == current)
            .ExecuteUpdateAsync(s => s.SetProperty(r => r.Value, next), cancellationToken);
        if (updated == 1)
        {
            return true;
        }

        if (expected != 0 || await db.Settings.AnyAsync(s => s.Key == SettingRow.PolicyVersion, cancellationToken))
        {
            return false;
        }

        db.Settings.Add(new SettingRow { Key = SettingRow.PolicyVersion, Value = next });
        try
        {
            await db.SaveChangesAsync(cancellationToken);
            return true;
        }
        catch (DbUpdateException)
        {
            db.ChangeTracker.Clear();
            return false;
        }
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

    /// <summary>The projects column: a JSON array of names.</summary>
    public static string ProjectJson(IEnumerable<string> projects) => System.Text.Json.JsonSerializer.Serialize(projects);

    public static IReadOnlyList<string> ProjectList(string json) =>
        string.IsNullOrEmpty(json) ? [] : System.Text.Json.JsonSerializer.Deserialize<string[]>(json) ?? [];

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
