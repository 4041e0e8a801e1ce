using Microsoft.EntityFrameworkCore;

namespace TaskBudgets.Governance.Storage;

/// <summary>
/// The rows one control-plane change writes, by key and value. A change records them while it
/// decides (reading the tables as it likes); <see cref="ControlPlaneWriter"/> writes them, in the
/// order recorded, in the change's transaction, and only when the change changes something.
/// </summary>
public sealed class ControlPlaneEdits
{
    private readonly List<Func<GovernanceDbContext, CancellationToken, Task>> edits = [];

    public void AddOrg(OrgRow row) => Insert(row);

    /// <summary>Sets the org's display name, tier and projects to <paramref name="row"/>'s.</summary>
    public void UpdateOrg(OrgRow row)
    {
        ArgumentNullException.ThrowIfNull(row);
        edits.Add((db, cancellationToken) => db.Orgs.Where(o => o.Id == row.Id).ExecuteUpdateAsync(
            s => s.SetProperty(o => o.DisplayName, row.DisplayName).SetProperty(o => o.Tier, row.Tier).SetProperty(o => o.Projects, row.Projects),
            cancellationToken));
    }

    /// <summary>Deletes the org's row only: its quotas and keys are the change's to handle.</summary>
    public void DeleteOrg(string orgId) =>
        edits.Add((db, cancellationToken) => db.Orgs.Where(o => o.Id == orgId).ExecuteDeleteAsync(cancellationToken));

    /// <summary>Replaces every rule of the tier with <paramref name="rules"/>.</summary>
    public void ReplaceTierRules(string tier, IReadOnlyList<TierRuleRow> rules)
    {
        ArgumentNullException.ThrowIfNull(rules);
        DeleteTierRules(tier);
        edits.Add(async (db, cancellationToken) =>
        {
            db.TierRules.AddRange(rules);
            await SaveAsync(db, cancellationToken);
        });
    }

    public void DeleteTierRules(string tier) =>
        edits.Add((db, cancellationToken) => db.TierRules.Where(r => r.Tier == tier).ExecuteDeleteAsync(cancellationToken));

    public void AddQuota(QuotaRow row) => Insert(row);

    /// <summary>Sets the quota's limit; its scope, subject, metric and window never change.</summary>
    public void SetQuotaLimit(string quotaId, long limit) =>
        edits.Add((db, cancellationToken) => db.Quotas.Where(q => q.Id == quotaId)
            .ExecuteUpdateAsync(s => s.SetProperty(q => q.Limit, limit), cancellationToken));

    public void DeleteQuota(string quotaId) =>
        edits.Add((db, cancellationToken) => db.Quotas.Where(q => q.Id == quotaId).ExecuteDeleteAsync(cancellationToken));

    public void DeleteQuotasOf(string orgId) =>
        edits.Add((db, cancellationToken) => db.Quotas.Where(q => q.OrgId == orgId).ExecuteDeleteAsync(cancellationToken));

    public void AddModel(ModelRow row) => Insert(row);

    /// <summary>Sets every column of the model named <paramref name="row"/>'s name to <paramref name="row"/>'s.</summary>
    public void UpdateModel(ModelRow row)
    {
        ArgumentNullException.ThrowIfNull(row);
        edits.Add(async (db, cancellationToken) =>
        {
            db.Models.Update(row);
            await SaveAsync(db, cancellationToken);
        });
    }

    public void AddApiKey(ApiKeyRow row) => Insert(row);

    /// <summary>Revokes the key at <paramref name="atMs"/> unless it is revoked already (it keeps its first time).</summary>
    public void RevokeApiKey(string keyId, long atMs) =>
        edits.Add((db, cancellationToken) => db.ApiKeys.Where(k => k.Id == keyId && k.RevokedAtMs == null)
            .ExecuteUpdateAsync(s => s.SetProperty(k => k.RevokedAtMs, atMs), cancellationToken));

    /// <summary>Revokes every key of the org that is not revoked yet, at <paramref name="atMs"/>.</summary>
    public void RevokeKeysOf(string orgId, long atMs) =>
        edits.Add((db, cancellationToken) => db.ApiKeys.Where(k => k.OrgId == orgId && k.RevokedAtMs == null)
            .ExecuteUpdateAsync(s => s.SetProperty(k => k.RevokedAtMs, atMs), cancellationToken));

    /// <summary>Writes the recorded rows, in the order recorded; the caller's transaction holds them.</summary>
    internal async Task WriteAsync(GovernanceDbContext db, CancellationToken cancellationToken)
    {
        foreach (var edit in edits)
        {
            await edit(db, cancellationToken);
        }
    }

    private void Insert<TRow>(TRow row)
        where TRow : class
    {
        ArgumentNullException.ThrowIfNull(row);
        edits.Add(async (db, cancellationToken) =>
        {
            db.Add(row);
            await SaveAsync(db, cancellationToken);
        });
    }

    // Each edit is sent when its turn comes, so the rows go in the order recorded; the tracker is
    // emptied after, so a row given twice (added, then updated) is not tracked twice.
    private static async Task SaveAsync(GovernanceDbContext db, CancellationToken cancellationToken)
    {
        await db.SaveChangesAsync(cancellationToken);
        db.ChangeTracker.Clear();
    }
}
