namespace TaskBudgets.Policies;

/// <summary>A checked tier: its name, truncation target and rules (one per task type, a "*" among them).</summary>
public sealed record CheckedTier(string Name, double TargetTruncationRate, IReadOnlyList<CheckedRule> Rules)
{
    /// <summary>The share of calls (0 &lt; rate &lt; 1) allowed to stop on MAX_TOKENS when a tier names none.</summary>
    public const double DefaultTargetTruncationRate = 0.02;
}
