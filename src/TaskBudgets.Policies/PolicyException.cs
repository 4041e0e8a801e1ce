namespace TaskBudgets.Policies;

/// <summary>A policy that cannot be used, with every problem found, each naming its field.</summary>
public sealed class PolicyException(IReadOnlyList<string> errors)
    : Exception("Invalid policy: " + string.Join("; ", errors))
{
    /// <summary>The problems, each "field: problem".</summary>
    public IReadOnlyList<string> Errors { get; } = errors;
}
