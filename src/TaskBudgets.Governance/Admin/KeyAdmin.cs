using Microsoft.EntityFrameworkCore;
using TaskBudgets.Governance.Auth;
using TaskBudgets.Governance.Storage;
using TaskBudgets.V1;

namespace TaskBudgets.Governance.Admin;

/// <summary>API keys: created with a secret shown once, listed without secrets, revoked.</summary>
public sealed class KeyAdmin(IDbContextFactory<GovernanceDbContext> contexts, AdminChanges changes, KeyDirectory keys, TimeProvider time)
{
    public const int MaxDescription = 256;

    /// <summary>Creates a key. Org admins may create caller and org admin keys of their own org only.</summary>
    public Task<(ApiKey Key, string Secret)> CreateAsync(CallerIdentity who, ApiKeyRole role, string orgId, string description, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(who);
        var problems = new List<FieldProblem>();
        if (role is not (ApiKeyRole.Caller or ApiKeyRole.OrgAdmin or ApiKeyRole.Admin))
        {
            problems.Add(new FieldProblem("role", "must be API_KEY_ROLE_CALLER, API_KEY_ROLE_ORG_ADMIN or API_KEY_ROLE_ADMIN"));
        }
        else if (role == ApiKeyRole.Admin && orgId.Length > 0)
        {
            problems.Add(new FieldProblem("org_id", "admin keys are not bound to an org: leave it empty"));
        }
        else if (role != ApiKeyRole.Admin && orgId.Length == 0)
        {
            problems.Add(new FieldProblem("org_id", "is required for caller and org admin keys"));
        }

        if (description.Length > MaxDescription)
        {
            problems.Add(new FieldProblem("description", $"must be at most {MaxDescription} characters"));
        }

        if (problems.Count > 0)
        {
            throw GovernanceException.Invalid(problems);
        }

        if (role == ApiKeyRole.Admin && !who.IsAdmin)
        {
            throw new GovernanceException(RefusalKind.PermissionDenied, "PERMISSION_DENIED", "Only an admin key may create admin keys.");
        }

        return changes.RunAsync(who, "CreateApiKey", async (db, edits) =>
        {
            if (orgId.Length > 0 && !await db.Orgs.AnyAsync(o => o.Id == orgId, cancellationToken))
            {
                throw GovernanceException.OrgNotFound(orgId);
            }

            var secret = ApiKeySecrets.NewSecret();
            var row = new ApiKeyRow
            {
                Id = ApiKeySecrets.NewKeyId(),
                Hash = ApiKeySecrets.Hash(secret),
                Role = (int)role,
                OrgId = orgId,
                Description = description,
                CreatedBy = who.KeyId,
                CreatedAtMs = time.GetUtcNow().ToUnixTimeMilliseconds(),
            };
            edits.AddApiKey(row);
            var key = AdminMapping.ToProto(row);
            return new Change<(ApiKey, string)>((key, secret), "api_key", row.Id, orgId, null, key);
        }, cancellationToken);
    }

    public async Task<(List<ApiKey> Keys, string Next)> ListAsync(string orgId, bool includeRevoked, Paging page, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var query = db.ApiKeys.AsNoTracking();
        if (orgId.Length > 0)
        {
            query = query.Where(k => k.OrgId == orgId);
        }

        if (!includeRevoked)
        {
            query = query.Where(k => k.RevokedAtMs == null);
        }

        if (page.After is { } after)
        {
            query = query.Where(k => string.Compare(k.Id, after) > 0);
        }

        var rows = await query.OrderBy(k => k.Id).Take(page.Size + 1).ToListAsync(cancellationToken);
        var next = Paging.Next(rows, page.Size, k => k.Id);
        return (rows.Select(AdminMapping.ToProto).ToList(), next);
    }

    /// <summary>Revokes a key: refused here at once, on other replicas within Auth:KeyCacheTtl.</summary>
    public async Task<ApiKey> RevokeAsync(CallerIdentity who, string keyId, string orgId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(who);
        var key = await changes.RunAsync(who, "RevokeApiKey", async (db, edits) =>
        {
            var row = await db.ApiKeys.FirstOrDefaultAsync(k => k.Id == keyId, cancellationToken);
            if (row is null || (orgId.Length > 0 && row.OrgId != orgId) || (!who.IsAdmin && row.OrgId != who.OrgId))
            {
                throw new GovernanceException(RefusalKind.NotFound, "KEY_NOT_FOUND", $"No key '{keyId}'{(orgId.Length > 0 ? $" of org '{orgId}'" : string.Empty)}.") { Field = "key_id" };
            }

            var before = AdminMapping.ToProto(row);
            if (row.RevokedAtMs is null)
            {
                // A key revoked already keeps its first time, and the change changes nothing.
                row.RevokedAtMs = time.GetUtcNow().ToUnixTimeMilliseconds();
                edits.RevokeApiKey(row.Id, row.RevokedAtMs.Value);
            }

            var after = AdminMapping.ToProto(row);
            return new Change<ApiKey>(after, "api_key", row.Id, row.OrgId, before, after);
        }, cancellationToken);
        keys.Invalidate();
        return key;
    }
}
