using System.Collections.Frozen;
using Google.Protobuf;
using TaskBudgets.Governance.Grants;
using TaskBudgets.Governance.Quotas;
using TaskBudgets.V1;

namespace TaskBudgets.Governance.Auth;

/// <summary>Who may call an RPC.</summary>
public enum Access
{
    /// <summary>Admin keys only.</summary>
    Admin = 1,

    /// <summary>Admin keys, and org admin keys of the org the request names.</summary>
    OrgAdmin = 2,

    /// <summary>Admin keys, and any org admin key (reads of tiers and models, which every org shares).</summary>
    AnyOrgAdmin = 3,

    /// <summary>Admin keys, and caller or org admin keys of the org the request names (or whose grant it settles).</summary>
    Caller = 4,
}

/// <summary>One row of the authorisation table: who may call, and which org the request concerns.</summary>
public sealed record AccessRule(Access Access, Func<IMessage, CallerIdentity, string>? OrgOf = null);

/// <summary>
/// The per-RPC authorisation table of both services. An RPC of the taskbudgets.v1 package that is
/// not in the table is refused to everyone (fail closed).
/// </summary>
public sealed class AccessRules
{
    private readonly FrozenDictionary<string, AccessRule> rules;

    public AccessRules(GrantTokens tokens)
    {
        ArgumentNullException.ThrowIfNull(tokens);

        // A genuine grant names its org; a forged or unknown one is the handler's NOT_FOUND.
        string GrantOrg(string grantId, string fallback, CallerIdentity who) =>
            tokens.Verify(grantId)?.OrgId ?? (fallback.Length > 0 ? fallback : who.OrgId);

        var budget = BudgetService.Descriptor.FullName;
        var admin = AdminService.Descriptor.FullName;
        rules = new Dictionary<string, AccessRule>(StringComparer.Ordinal)
        {
            // An empty org_id is the handler's INVALID_ARGUMENT, so it is checked as the key's own org.
            [$"/{budget}/GetBudget"] = new(Access.Caller, (m, who) => OrDefault(((GetBudgetRequest)m).OrgId, who)),
            [$"/{budget}/ReportUsage"] = new(Access.Caller, (m, who) =>
            {
                var r = (ReportUsageRequest)m;
                return r.GrantId.Length > 0 ? GrantOrg(r.GrantId, r.OrgId, who) : OrDefault(r.OrgId, who);
            }),
            [$"/{budget}/ReleaseBudget"] = new(Access.Caller, (m, who) => GrantOrg(((ReleaseBudgetRequest)m).GrantId, string.Empty, who)),

            [$"/{admin}/CreateOrg"] = new(Access.Admin),
            [$"/{admin}/GetOrg"] = Org<GetOrgRequest>(Access.OrgAdmin, r => r.OrgId),
            [$"/{admin}/ListOrgs"] = new(Access.Admin),
            [$"/{admin}/UpdateOrg"] = Org<UpdateOrgRequest>(Access.OrgAdmin, r => r.Org?.OrgId ?? string.Empty),
            [$"/{admin}/DeleteOrg"] = new(Access.Admin),
            [$"/{admin}/UpsertTier"] = new(Access.Admin),
            [$"/{admin}/GetTier"] = new(Access.AnyOrgAdmin),
            [$"/{admin}/ListTiers"] = new(Access.AnyOrgAdmin),
            [$"/{admin}/DeleteTier"] = new(Access.Admin),
            [$"/{admin}/SetQuota"] = Org<SetQuotaRequest>(Access.OrgAdmin, r => r.Quota?.OrgId ?? string.Empty),
            [$"/{admin}/GetQuota"] = Org<GetQuotaRequest>(Access.OrgAdmin, r => r.OrgId),
            [$"/{admin}/ListQuotas"] = Org<ListQuotasRequest>(Access.OrgAdmin, r => r.OrgId),
            [$"/{admin}/DeleteQuota"] = Org<DeleteQuotaRequest>(Access.OrgAdmin, r => r.OrgId),
            [$"/{admin}/SetModel"] = new(Access.Admin),
            [$"/{admin}/ListModels"] = new(Access.AnyOrgAdmin),
            [$"/{admin}/CreateApiKey"] = Org<CreateApiKeyRequest>(Access.OrgAdmin, r => r.OrgId),
            [$"/{admin}/ListApiKeys"] = Org<ListApiKeysRequest>(Access.OrgAdmin, r => r.OrgId),
            [$"/{admin}/RevokeApiKey"] = Org<RevokeApiKeyRequest>(Access.OrgAdmin, r => r.OrgId),
            [$"/{admin}/GetUsageSummary"] = Org<GetUsageSummaryRequest>(Access.OrgAdmin, r => r.OrgId),
            [$"/{admin}/SimulateBudget"] = Org<SimulateBudgetRequest>(Access.OrgAdmin, r => r.BudgetRequest?.OrgId ?? string.Empty),
            [$"/{admin}/SimulatePolicy"] = Org<SimulatePolicyRequest>(Access.OrgAdmin, r => r.OrgId),
            [$"/{admin}/GetCalibration"] = Org<GetCalibrationRequest>(Access.OrgAdmin, r => r.OrgId),
            [$"/{admin}/ListAuditEvents"] = Org<ListAuditEventsRequest>(Access.OrgAdmin, r => r.OrgId),
        }.ToFrozenDictionary(StringComparer.Ordinal);
    }

    /// <summary>The methods (as "/package.Service/Method") the table covers.</summary>
    public IEnumerable<string> Methods => rules.Keys;

    /// <summary>Whether <paramref name="method"/> needs a key: every RPC of the taskbudgets.v1 services.</summary>
    public static bool Protects(string method) => method.StartsWith("/taskbudgets.", StringComparison.Ordinal);

    /// <summary>Null when <paramref name="who"/> may make this call, else why not.</summary>
    /// <param name="request">The request; null for streaming calls, which only admin keys may make.</param>
    public string? Refusal(string method, IMessage? request, CallerIdentity who)
    {
        ArgumentNullException.ThrowIfNull(who);
        if (!rules.TryGetValue(method, out var rule))
        {
            return $"{method} is not open to any key.";
        }

        if (who.IsAdmin)
        {
            return null;
        }

        switch (rule.Access)
        {
            case Access.Admin:
                return "This call needs an admin key.";
            case Access.AnyOrgAdmin:
                return who.Role == KeyRole.OrgAdmin ? null : "This call needs an org admin or admin key.";
            case Access.OrgAdmin when who.Role != KeyRole.OrgAdmin:
                return "This call needs an org admin or admin key.";
        }

        var org = request is null ? string.Empty : rule.OrgOf?.Invoke(request, who) ?? string.Empty;
        if (org.Length == 0)
        {
            return $"Keys bound to an org must name it: this key is bound to org '{who.OrgId}'.";
        }

        return string.Equals(org, who.OrgId, StringComparison.Ordinal)
            ? null
            : $"This key is bound to org '{who.OrgId}' and may not act on org '{org}'.";
    }

    private static string OrDefault(string orgId, CallerIdentity who) => orgId.Length > 0 ? orgId : who.OrgId;

    private static AccessRule Org<TRequest>(Access access, Func<TRequest, string> orgOf)
        where TRequest : IMessage => new(access, (m, _) => orgOf((TRequest)m));
}
