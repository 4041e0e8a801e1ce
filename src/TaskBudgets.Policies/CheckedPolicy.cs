namespace TaskBudgets.Policies;

/// <summary>A whole policy file, checked: names unique within each kind, every org's tier among the tiers.</summary>
public sealed record CheckedPolicy(IReadOnlyList<CheckedModel> Models, IReadOnlyList<CheckedTier> Tiers, IReadOnlyList<CheckedOrg> Orgs);
