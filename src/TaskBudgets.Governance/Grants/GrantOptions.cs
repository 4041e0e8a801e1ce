using System.ComponentModel.DataAnnotations;
using TaskBudgets.Governance.Quotas;

namespace TaskBudgets.Governance.Grants;

/// <summary>How long grants hold their reservations. Bound from the "Grants" section.</summary>
public sealed class GrantOptions
{
    public const string Section = "Grants";

    /// <summary>An unreported, unreleased grant expires after this and gives its capacity back. Default 10 min.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan Ttl { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>How often expired grants are swept. Default 1 s.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:01:00")]
    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromSeconds(1);
}
