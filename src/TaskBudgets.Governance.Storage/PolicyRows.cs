using System.Globalization;
using Microsoft.EntityFrameworkCore;

namespace TaskBudgets.Governance.Storage;

/// <summary>The policy tables: read whole, replaced whole, and the version every change moves.</summary>
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

    /// <summary>Every policy table's rows and the version they are at, read together.</summary>
    public static async Task<PolicyTables> ReadAllAsync(GovernanceDbContext db, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        return new PolicyTables(
            await ReadVersionAsync(db, cancellationToken),
            await db.Models.AsNoTracking().ToListAsync(cancellationToken),
            await db.TierRules.AsNoTracking().ToListAsync(cancellationToken),
            await db.Orgs.AsNoTracking().ToListAsync(cancellationToken),
            await db.Quotas.AsNoTracking().ToListAsync(cancellationToken));
    }

    /// <summary>Replaces every policy table with <paramref name="tables"/> and bumps the policy version.</summary>
    public static async Task<long> ReplaceAsync(GovernanceDbContext db, PolicyTables tables, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        ArgumentNullException.ThrowIfNull(tables);
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);

        // The version first, as every control-plane change takes it (LockOrder): this and an admin
        // change running meanwhile queue on that row instead of deadlocking on the rows replaced.
        var version = await BumpVersionAsync(db, cancellationToken);
        await db.Quotas.ExecuteDeleteAsync(cancellationToken);
        await db.Orgs.ExecuteDeleteAsync(cancellationToken);
        await db.TierRules.ExecuteDeleteAsync(cancellationToken);
        await db.Models.ExecuteDeleteAsync(cancellationToken);

        db.Models.AddRange(tables.Models);
        db.TierRules.AddRange(tables.TierRules);
        db.Orgs.AddRange(tables.Orgs);
        db.Quotas.AddRange(tables.Quotas);
        await db.SaveChangesAsync(cancellationToken);
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
}

/// <summary>The rows of every policy table at one version.</summary>
public sealed record PolicyTables(
    long Version,
    IReadOnlyList<ModelRow> Models,
    IReadOnlyList<TierRuleRow> TierRules,
    IReadOnlyList<OrgRow> Orgs,
    IReadOnlyList<QuotaRow> Quotas);
