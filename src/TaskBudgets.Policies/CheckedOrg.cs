namespace TaskBudgets.Policies;

/// <summary>A checked org: its display name filled in (the id when none is given), projects and quotas.</summary>
public sealed record CheckedOrg(string Id, string DisplayName, string Tier, IReadOnlyList<string> Projects, IReadOnlyList<CheckedQuota> Quotas);
