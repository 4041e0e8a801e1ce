using System.ComponentModel.DataAnnotations;

namespace TaskBudgets.Governance.Storage;

/// <summary>Group commit of usage reports. Bound from the "Reports" section.</summary>
public sealed class ReportWriterOptions
{
    public const string Section = "Reports";

    /// <summary>Most settlements committed in one transaction. Default 512.</summary>
    [Range(1, 100_000)]
    public int MaxBatchSize { get; set; } = 512;

    /// <summary>Settlements waiting for a commit before callers wait to enqueue. Default 20,000.</summary>
    [Range(1, 10_000_000)]
    public int QueueCapacity { get; set; } = 20_000;
}
