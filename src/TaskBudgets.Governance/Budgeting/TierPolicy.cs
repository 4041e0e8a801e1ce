using System.Collections.Frozen;

namespace TaskBudgets.Governance.Budgeting;

/// <summary>A tier: a service level with a budget rule per task type and a "*" default rule.</summary>
public sealed record TierPolicy(string Name, FrozenDictionary<string, TierRule> Rules)
{
    public const double DefaultTargetTruncationRate = 0.02;

    /// <summary>Share of the tier's calls allowed to stop on MAX_TOKENS; adaptive rules share it out.</summary>
    public double TargetTruncationRate { get; init; } = DefaultTargetTruncationRate;

    /// <summary>The rule for <paramref name="taskType"/>, else the tier's "*" rule, else null.</summary>
    public TierRule? RuleFor(string taskType) =>
        Rules.TryGetValue(taskType, out var rule) || Rules.TryGetValue(TierRule.DefaultTaskType, out rule) ? rule : null;
}
