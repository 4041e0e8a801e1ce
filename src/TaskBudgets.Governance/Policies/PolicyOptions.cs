using System.ComponentModel.DataAnnotations;

namespace TaskBudgets.Governance.Policies;

/// <summary>Where the policy comes from. Bound from the "Policy" section.</summary>
public sealed class PolicyOptions
{
    public const string Section = "Policy";

    /// <summary>The declarative policy file, relative to the content root. Default policies/policies.yaml.</summary>
    public string File { get; set; } = "policies/policies.yaml";

    /// <summary>When the file is written into the database at start-up. Default IfEmpty.</summary>
    public PolicyApply ApplyOnStart { get; set; } = PolicyApply.IfEmpty;

    /// <summary>How often a replica checks the database for a newer policy version. Default 5 s.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "01:00:00")]
    public TimeSpan RefreshInterval { get; set; } = TimeSpan.FromSeconds(5);
}

public enum PolicyApply
{
    /// <summary>Seed a database that has no policy yet; later changes come from the admin API.</summary>
    IfEmpty = 1,

    /// <summary>Replace the database's policy with the file on every start.</summary>
    Always = 2,

    /// <summary>Never read the file.</summary>
    Never = 3,
}
