using System.Diagnostics.Metrics;

namespace TaskBudgets.Governance.Storage;

/// <summary>The group commit's instruments, on the service's meter.</summary>
public sealed class StorageMetrics
{
    /// <summary>The service's meter: storage's instruments sit beside the others.</summary>
    public const string MeterName = "TaskBudgets.Governance";

    private readonly Histogram<double> flushDuration;
    private readonly Histogram<long> batchSize;
    private long flushFailures;

    public StorageMetrics(IMeterFactory meters)
    {
        ArgumentNullException.ThrowIfNull(meters);
        var meter = meters.Create(MeterName);
        // Seconds: a commit takes milliseconds, so the boundaries start below one. Without advice the
        // exporter's defaults (0, 5, 10, 25 ... 10000, meant for milliseconds) put every flush in the
        // first bucket, and a quantile reads seconds.
        flushDuration = meter.CreateHistogram<double>(
            "taskbudgets.report.flush.duration",
            "s",
            "Time to commit one group of settlements.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] });
        batchSize = meter.CreateHistogram<long>(
            "taskbudgets.report.batch.size",
            "{settlement}",
            "Settlements committed together.",
            advice: new InstrumentAdvice<long> { HistogramBucketBoundaries = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024] });

        // Observed rather than added to, so the series is there from the start for alerts to read.
        meter.CreateObservableCounter("taskbudgets.report.flush.failures", () => Volatile.Read(ref flushFailures), "{flush}", "Group commits that failed.");
    }

    public void Flushed(int size, TimeSpan duration)
    {
        batchSize.Record(size);
        flushDuration.Record(duration.TotalSeconds);
    }

    public void FlushFailed() => Interlocked.Increment(ref flushFailures);
}
