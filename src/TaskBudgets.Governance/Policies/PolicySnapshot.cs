using System.Collections.Frozen;
using TaskBudgets.Governance.Budgeting;
using TaskBudgets.Governance.Quotas;

namespace TaskBudgets.Governance.Policies;

/// <summary>An org (tenant): its tier and the quotas that apply to its calls.</summary>
public sealed record OrgPolicy(string Id, string DisplayName, string Tier, IReadOnlyList<QuotaDefinition> Quotas)
{
    /// <summary>
    /// The org's declared projects. When there are any, calls may name only these (or no
    /// project), so a typo or an invented project id cannot slip past per-project quotas.
    /// </summary>
    public IReadOnlyList<string> Projects { get; init; } = [];

    /// <summary>Whether a call may name <paramref name="projectId"/>.</summary>
    public bool Accepts(string projectId) =>
        projectId.Length == 0 || Projects.Count == 0 || Projects.Contains(projectId, StringComparer.Ordinal);
}

/// <summary>The policy in force: immutable, swapped whole when the policy version changes.</summary>
public sealed class PolicySnapshot
{
    public static readonly PolicySnapshot Empty = new(0, [], [], []);

    public PolicySnapshot(long version, IEnumerable<OrgPolicy> orgs, IEnumerable<TierPolicy> tiers, IEnumerable<ModelSpec> models)
    {
        Version = version;
        Orgs = orgs.ToFrozenDictionary(o => o.Id, StringComparer.Ordinal);
        Tiers = tiers.ToFrozenDictionary(t => t.Name, StringComparer.Ordinal);
        Models = models.ToFrozenDictionary(m => m.Name, StringComparer.Ordinal);
    }

    public long Version { get; }

    public FrozenDictionary<string, OrgPolicy> Orgs { get; }

    public FrozenDictionary<string, TierPolicy> Tiers { get; }

    public FrozenDictionary<string, ModelSpec> Models { get; }

    /// <summary>The org and model a call names, checking the project it names too.</summary>
    /// <exception cref="GovernanceException">Unknown org (NOT_FOUND), project or model (INVALID_ARGUMENT).</exception>
    public (OrgPolicy Org, ModelSpec Model) Resolve(string orgId, string projectId, string model)
    {
        var org = Orgs.GetValueOrDefault(orgId) ?? throw GovernanceException.OrgNotFound(orgId);
        if (!org.Accepts(projectId))
        {
            throw GovernanceException.UnknownProject(org.Id, projectId, org.Projects);
        }

        return (org, Models.GetValueOrDefault(model) ?? throw GovernanceException.UnknownModel(model));
    }
}
