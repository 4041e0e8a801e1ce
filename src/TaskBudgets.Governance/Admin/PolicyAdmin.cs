using Microsoft.EntityFrameworkCore;
using TaskBudgets.Governance.Auth;
using TaskBudgets.Governance.Policies;
using TaskBudgets.Governance.Storage;
using TaskBudgets.V1;

namespace TaskBudgets.Governance.Admin;

/// <summary>
/// Orgs, tier policies, quotas and models: checked by <see cref="AdminChecks"/>, changed
/// through <see cref="AdminChanges"/> (version bump and audit; Storage writes the rows), read
/// straight from the tables.
/// </summary>
public sealed class PolicyAdmin(IDbContextFactory<GovernanceDbContext> contexts, AdminChanges changes, KeyDirectory keys, TimeProvider time)
{
    /// <summary>The fields UpdateOrg may change.</summary>
    public static readonly IReadOnlyList<string> OrgFields = ["display_name", "tier", "projects"];

    public Task<Org> CreateOrgAsync(CallerIdentity who, Org? org, CancellationToken cancellationToken)
    {
        var entry = Require(org, "org");
        AdminChecks.CheckOrg(entry);
        return changes.RunAsync(who, "CreateOrg", async (db, edits) =>
        {
            if (await db.Orgs.AnyAsync(o => o.Id == entry.OrgId, cancellationToken))
            {
                throw new GovernanceException(RefusalKind.AlreadyExists, "ORG_EXISTS", $"Org '{entry.OrgId}' already exists.");
            }

            await RequireTierAsync(db, entry.Tier, "org.tier", cancellationToken);
            var row = new OrgRow
            {
                Id = entry.OrgId,
                DisplayName = entry.DisplayName.Length == 0 ? entry.OrgId : entry.DisplayName,
                Tier = entry.Tier,
                Projects = PolicyRows.ProjectJson(entry.Projects),
            };
            edits.AddOrg(row);
            var created = AdminMapping.ToProto(row);
            return new Change<Org>(created, "org", row.Id, row.Id, null, created);
        }, cancellationToken);
    }

    public async Task<Org> GetOrgAsync(string orgId, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        return AdminMapping.ToProto(await FindOrgAsync(db, orgId, cancellationToken));
    }

    public async Task<(List<Org> Orgs, string Next)> ListOrgsAsync(Paging page, string tier, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var query = db.Orgs.AsNoTracking();
        if (page.After is { } after)
        {
            query = query.Where(o => string.Compare(o.Id, after) > 0);
        }

        if (tier.Length > 0)
        {
            query = query.Where(o => o.Tier == tier);
        }

        var rows = await query.OrderBy(o => o.Id).Take(page.Size + 1).ToListAsync(cancellationToken);
        var next = Paging.Next(rows, page.Size, o => o.Id);
        return (rows.Select(AdminMapping.ToProto).ToList(), next);
    }

    public Task<Org> UpdateOrgAsync(CallerIdentity who, Org? org, IReadOnlyList<string> mask, string etag, CancellationToken cancellationToken)
    {
        var update = Require(org, "org");
        var unknown = mask.Where(p => !OrgFields.Contains(p)).ToList();
        if (unknown.Count > 0)
        {
            throw GovernanceException.Invalid([new FieldProblem("update_mask", $"unknown path '{unknown[0]}': the paths are {string.Join(", ", OrgFields)}")]);
        }

        var paths = mask.Count == 0 ? OrgFields : mask;
        return changes.RunAsync(who, "UpdateOrg", async (db, edits) =>
        {
            var row = await FindOrgAsync(db, update.OrgId, cancellationToken);
            var before = AdminMapping.ToProto(row);
            AdminChanges.CheckEtag(etag, before, $"org '{row.Id}'");
            var merged = before.Clone();
            if (paths.Contains("display_name"))
            {
                merged.DisplayName = update.DisplayName.Length == 0 ? row.Id : update.DisplayName;
            }

            if (paths.Contains("tier"))
            {
                merged.Tier = update.Tier;
            }

            if (paths.Contains("projects"))
            {
                merged.Projects.Clear();
                merged.Projects.AddRange(update.Projects);
            }

            AdminChecks.CheckOrg(merged);
            if (merged.Tier != row.Tier)
            {
                if (!who.IsAdmin)
                {
                    throw new GovernanceException(RefusalKind.PermissionDenied, "PERMISSION_DENIED", "Only an admin key may change an org's tier.");
                }

                await RequireTierAsync(db, merged.Tier, "org.tier", cancellationToken);
            }

            var updated = new OrgRow { Id = row.Id, DisplayName = merged.DisplayName, Tier = merged.Tier, Projects = PolicyRows.ProjectJson(merged.Projects) };
            edits.UpdateOrg(updated);
            var after = AdminMapping.ToProto(updated);
            return new Change<Org>(after, "org", row.Id, row.Id, before, after);
        }, cancellationToken);
    }

    public async Task DeleteOrgAsync(CallerIdentity who, string orgId, string etag, CancellationToken cancellationToken)
    {
        await changes.RunAsync(who, "DeleteOrg", async (db, edits) =>
        {
            var row = await FindOrgAsync(db, orgId, cancellationToken);
            var before = AdminMapping.ToProto(row);
            AdminChanges.CheckEtag(etag, before, $"org '{orgId}'");

            // An org goes with its quotas, and its keys stop working (revoked, so they stay listed).
            edits.DeleteQuotasOf(orgId);
            edits.RevokeKeysOf(orgId, time.GetUtcNow().ToUnixTimeMilliseconds());
            edits.DeleteOrg(orgId);
            return new Change<bool>(true, "org", orgId, orgId, before, null);
        }, cancellationToken);

        // Its keys were revoked with it: refused here at once, elsewhere within Auth:KeyCacheTtl.
        keys.Invalidate();
    }

    public Task<(Tier Tier, bool Created)> UpsertTierAsync(CallerIdentity who, Tier? tier, string etag, CancellationToken cancellationToken)
    {
        var entry = Require(tier, "tier");
        var policy = AdminChecks.CheckTier(entry);
        return changes.RunAsync(who, "UpsertTier", async (db, edits) =>
        {
            var existing = await db.TierRules.Where(r => r.Tier == policy.Name).ToListAsync(cancellationToken);
            var before = existing.Count == 0 ? null : AdminMapping.ToProto(policy.Name, existing);
            AdminChanges.CheckEtag(etag, before, $"tier '{policy.Name}'");
            var rows = policy.Rules.Values.Select(r => StoredPolicy.ToRow(policy, r)).ToList();
            edits.ReplaceTierRules(policy.Name, rows);
            var after = AdminMapping.ToProto(policy.Name, rows);
            return new Change<(Tier, bool)>((after, before is null), "tier", policy.Name, string.Empty, before, after);
        }, cancellationToken);
    }

    public async Task<Tier> GetTierAsync(string name, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var rows = await db.TierRules.AsNoTracking().Where(r => r.Tier == name).ToListAsync(cancellationToken);
        return rows.Count > 0 ? AdminMapping.ToProto(name, rows) : throw TierNotFound(name);
    }

    public async Task<(List<Tier> Tiers, string Next)> ListTiersAsync(Paging page, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var names = db.TierRules.AsNoTracking().Select(r => r.Tier).Distinct();
        if (page.After is { } after)
        {
            names = names.Where(t => string.Compare(t, after) > 0);
        }

        var page1 = await names.OrderBy(t => t).Take(page.Size + 1).ToListAsync(cancellationToken);
        var next = Paging.Next(page1, page.Size, t => t);
        var rules = await db.TierRules.AsNoTracking().Where(r => page1.Contains(r.Tier)).ToListAsync(cancellationToken);
        var byTier = rules.ToLookup(r => r.Tier, StringComparer.Ordinal);
        return (page1.Select(t => AdminMapping.ToProto(t, byTier[t])).ToList(), next);
    }

    public Task DeleteTierAsync(CallerIdentity who, string name, string etag, CancellationToken cancellationToken) =>
        changes.RunAsync(who, "DeleteTier", async (db, edits) =>
        {
            var rows = await db.TierRules.Where(r => r.Tier == name).ToListAsync(cancellationToken);
            if (rows.Count == 0)
            {
                throw TierNotFound(name);
            }

            var before = AdminMapping.ToProto(name, rows);
            AdminChanges.CheckEtag(etag, before, $"tier '{name}'");
            var users = await db.Orgs.Where(o => o.Tier == name).OrderBy(o => o.Id).Select(o => o.Id).Take(6).ToListAsync(cancellationToken);
            if (users.Count > 0)
            {
                var named = string.Join(", ", users.Take(5).Select(u => $"'{u}'")) + (users.Count > 5 ? " and more" : string.Empty);
                throw new GovernanceException(RefusalKind.FailedPrecondition, "TIER_IN_USE", $"Tier '{name}' is used by org {named}: move them to another tier first.");
            }

            edits.DeleteTierRules(name);
            return new Change<bool>(true, "tier", name, string.Empty, before, null);
        }, cancellationToken);

    public Task<(Quota Quota, bool Created)> SetQuotaAsync(CallerIdentity who, Quota? quota, string etag, CancellationToken cancellationToken)
    {
        var given = Require(quota, "quota");
        var wanted = StoredPolicy.ToRow(AdminChecks.CheckQuota(given));
        if (!who.IsAdmin && wanted.Scope == (int)QuotaScope.Org)
        {
            throw OrgQuotaDenied();
        }

        return changes.RunAsync(who, "SetQuota", async (db, edits) =>
        {
            await FindOrgAsync(db, wanted.OrgId, cancellationToken);
            var row = await db.Quotas.FirstOrDefaultAsync(q => q.Id == wanted.Id, cancellationToken);
            if (row is null || row.OrgId != wanted.OrgId)
            {
                // Not this org's: answered the same whether another org has the id or nobody does.
                // An org admin creates only ids that begin with its org's id, and such ids belong
                // to that org alone (PolicyChecks), so nothing it is told depends on other orgs.
                AdminChanges.CheckEtag(etag, null, $"quota '{wanted.Id}'");
                if (!who.IsAdmin && !wanted.Id.StartsWith(wanted.OrgId + ":", StringComparison.Ordinal))
                {
                    throw new GovernanceException(
                        RefusalKind.InvalidArgument,
                        "QUOTA_ID_OUTSIDE_ORG",
                        $"A new quota's id must begin with '{wanted.OrgId}:', or be left empty to derive it; '{wanted.Id}' does not.") { Field = "quota.quota_id" };
                }

                if (row is not null)
                {
                    // Only an admin, who sees every org, or an id kept from before ids named their org.
                    throw new GovernanceException(RefusalKind.AlreadyExists, "QUOTA_ID_TAKEN", $"Quota id '{wanted.Id}' cannot be used: choose another id.") { Field = "quota.quota_id" };
                }
            }

            var before = row is null ? null : AdminMapping.ToProto(row);
            AdminChanges.CheckEtag(etag, before, $"quota '{wanted.Id}'");
            if (row is null)
            {
                edits.AddQuota(wanted);
                row = wanted;
            }
            else if (row.Scope != wanted.Scope || row.Subject != wanted.Subject || row.Metric != wanted.Metric || row.Window != wanted.Window)
            {
                throw new GovernanceException(
                    RefusalKind.FailedPrecondition,
                    "QUOTA_IDENTITY_FIXED",
                    $"Quota '{row.Id}' exists with another scope, subject, metric or window; those are fixed (its counters depend on them): delete it and set a new one.");
            }
            else
            {
                edits.SetQuotaLimit(row.Id, wanted.Limit);
                row.Limit = wanted.Limit; // The answer and the audit show the quota as it now stands.
            }

            var after = AdminMapping.ToProto(row);
            return new Change<(Quota, bool)>((after, before is null), "quota", row.Id, row.OrgId, before, after);
        }, cancellationToken);
    }

    public async Task<Quota> GetQuotaAsync(string orgId, string quotaId, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        return AdminMapping.ToProto(await FindQuotaAsync(db, orgId, quotaId, cancellationToken));
    }

    public async Task<(List<Quota> Quotas, string Next)> ListQuotasAsync(string orgId, Paging page, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var query = db.Quotas.AsNoTracking();
        if (orgId.Length > 0)
        {
            query = query.Where(q => q.OrgId == orgId);
        }

        if (page.After is { } after)
        {
            query = query.Where(q => string.Compare(q.Id, after) > 0);
        }

        var rows = await query.OrderBy(q => q.Id).Take(page.Size + 1).ToListAsync(cancellationToken);
        var next = Paging.Next(rows, page.Size, q => q.Id);
        return (rows.Select(AdminMapping.ToProto).ToList(), next);
    }

    public Task DeleteQuotaAsync(CallerIdentity who, string orgId, string quotaId, string etag, CancellationToken cancellationToken) =>
        changes.RunAsync(who, "DeleteQuota", async (db, edits) =>
        {
            var row = await FindQuotaAsync(db, orgId, quotaId, cancellationToken);
            if (!who.IsAdmin && row.Scope == (int)QuotaScope.Org)
            {
                throw OrgQuotaDenied();
            }

            var before = AdminMapping.ToProto(row);
            AdminChanges.CheckEtag(etag, before, $"quota '{quotaId}'");
            edits.DeleteQuota(row.Id);
            return new Change<bool>(true, "quota", row.Id, row.OrgId, before, null);
        }, cancellationToken);

    public Task<(Model Model, bool Created)> SetModelAsync(CallerIdentity who, Model? model, string etag, CancellationToken cancellationToken)
    {
        var given = Require(model, "model");
        var wanted = StoredPolicy.ToRow(AdminChecks.CheckModel(given));
        return changes.RunAsync(who, "SetModel", async (db, edits) =>
        {
            var row = await db.Models.FirstOrDefaultAsync(m => m.Name == wanted.Name, cancellationToken);
            var before = row is null ? null : AdminMapping.ToProto(row);
            AdminChanges.CheckEtag(etag, before, $"model '{wanted.Name}'");
            if (row is null)
            {
                edits.AddModel(wanted);
            }
            else
            {
                edits.UpdateModel(wanted);
            }

            var after = AdminMapping.ToProto(wanted);
            return new Change<(Model, bool)>((after, before is null), "model", wanted.Name, string.Empty, before, after);
        }, cancellationToken);
    }

    public async Task<(List<Model> Models, string Next)> ListModelsAsync(Paging page, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var query = db.Models.AsNoTracking();
        if (page.After is { } after)
        {
            query = query.Where(m => string.Compare(m.Name, after) > 0);
        }

        var rows = await query.OrderBy(m => m.Name).Take(page.Size + 1).ToListAsync(cancellationToken);
        var next = Paging.Next(rows, page.Size, m => m.Name);
        return (rows.Select(AdminMapping.ToProto).ToList(), next);
    }

    private static T Require<T>(T? message, string field)
        where T : class => message ?? throw GovernanceException.Invalid([new FieldProblem(field, "is required")]);

    private static async Task<OrgRow> FindOrgAsync(GovernanceDbContext db, string orgId, CancellationToken cancellationToken) =>
        await db.Orgs.FirstOrDefaultAsync(o => o.Id == orgId, cancellationToken) ?? throw GovernanceException.OrgNotFound(orgId);

    private static async Task<QuotaRow> FindQuotaAsync(GovernanceDbContext db, string orgId, string quotaId, CancellationToken cancellationToken) =>
        await db.Quotas.FirstOrDefaultAsync(q => q.Id == quotaId && q.OrgId == orgId, cancellationToken)
        ?? throw new GovernanceException(RefusalKind.NotFound, "QUOTA_NOT_FOUND", $"Org '{orgId}' has no quota '{quotaId}'.") { Field = "quota_id" };

    private static async Task RequireTierAsync(GovernanceDbContext db, string tier, string field, CancellationToken cancellationToken)
    {
        if (!await db.TierRules.AnyAsync(r => r.Tier == tier, cancellationToken))
        {
            throw GovernanceException.Invalid([new FieldProblem(field, $"unknown tier '{tier}'")]);
        }
    }

    private static GovernanceException TierNotFound(string name) =>
        new(RefusalKind.NotFound, "TIER_NOT_FOUND", $"Tier '{name}' does not exist.") { Field = "name" };

    private static GovernanceException OrgQuotaDenied() =>
        new(RefusalKind.PermissionDenied, "PERMISSION_DENIED", "Org-wide quotas are set by admins; org admins manage project and principal quotas.");
}
