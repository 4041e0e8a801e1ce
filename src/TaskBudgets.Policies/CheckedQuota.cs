namespace TaskBudgets.Policies;

/// <summary>A checked quota of org <paramref name="OrgId"/>, its id given or derived.</summary>
/// <param name="Subject">For project or principal scope: the one it is for; empty for each one separately.</param>
public sealed record CheckedQuota(string Id, string OrgId, PolicyScope Scope, string Subject, PolicyMetric Metric, PolicyWindow Window, long Limit);
