using System.ComponentModel.DataAnnotations;
using TaskBudgets.Governance.Budgeting;

namespace TaskBudgets.Governance.UsageHistory;

/// <summary>Grant and denial counting for usage summaries. Bound from the "Usage" section.</summary>
public sealed class UsageOptions
{
    public const string Section = "Usage";

    /// <summary>
    /// How often a replica writes its grant and denial counts to the database. A summary includes
    /// the answering replica's counts at once and the others' within this time. Default 5 s.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:10:00")]
    public TimeSpan FlushInterval { get; set; } = TimeSpan.FromSeconds(5);
}
