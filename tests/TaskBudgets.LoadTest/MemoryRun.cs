using System.Diagnostics;

namespace TaskBudgets.LoadTest;

/// <summary>One look at the server's memory during a memory run.</summary>
internal sealed record MemorySample(
    double Seconds,
    long GrantsIssued,
    long GrantsSettled,
    long GrantsLeftToExpire,
    double ActiveReservations,
    double GcHeapBytes,
    double WorkingSetBytes,
    double CommittedBytes);

/// <summary>What a memory run saw, and the growth fitted to it.</summary>
internal sealed record MemoryResult(
    IReadOnlyList<MemorySample> Samples,
    MemorySample? AfterDrain,
    double MeasuredFromSeconds,
    double HeapStartBytes,
    double HeapEndBytes,
    double HeapSlopeBytesPerGrant,
    double WorkingSetStartBytes,
    double WorkingSetEndBytes,
    double WorkingSetSlopeBytesPerGrant,
    long GrantsMeasured,
    double GrantsPerSecond);

/// <summary>
/// Issues many grants at full speed, settles most and leaves a share to expire, and samples the
/// server's GC heap (after its last collection), working set and active reservations from /metrics.
/// Flat means: once the books are full, growth per grant is ~0 and the active reservations stay bounded.
/// </summary>
internal static class MemoryRun
{
    public static async Task<MemoryResult> RunAsync(LoadOptions options, Workload workload, MetricsScraper metrics, TimeSpan? drain, TextWriter log)
    {
        var samples = new List<MemorySample>();
        var started = Stopwatch.GetTimestamp();
        var limit = options.MeasuredDuration;
        using var stop = new CancellationTokenSource();
        await log.WriteLineAsync($"memory: up to {options.Grants:N0} grants or {limit.TotalSeconds:0} s, {options.Concurrency} in flight, {options.ExpireShare:P0} left to expire");

        var workers = Enumerable.Range(0, options.Concurrency).Select(i => Task.Run(async () =>
        {
            var operation = workload.Cycle(i, options.ExpireShare);
            var stats = new WorkerStats();
            while (!stop.IsCancellationRequested && workload.GrantsIssued < options.Grants)
            {
                try
                {
                    if (await operation(stats, false) is { } error)
                    {
                        stats.CountError(error);
                    }
                }
                catch (Exception e) when (e is HttpRequestException or IOException or InvalidOperationException)
                {
                    stats.CountError(e.GetType().Name);
                }
            }

            return stats;
        })).ToArray();

        var all = Task.WhenAll(workers);
        while (!all.IsCompleted)
        {
            var elapsed = Stopwatch.GetElapsedTime(started);
            if (elapsed >= limit)
            {
                await stop.CancelAsync();
                break;
            }

            samples.Add(await SampleAsync(metrics, workload, elapsed.TotalSeconds));
            var last = samples[^1];
            await log.WriteLineAsync($"  {last.Seconds,6:0.0} s  {last.GrantsIssued,9:N0} grants  active {last.ActiveReservations,8:N0}  heap {last.GcHeapBytes / 1048576,7:0.0} MiB  working set {last.WorkingSetBytes / 1048576,7:0.0} MiB");
            await Task.WhenAny(all, Task.Delay(options.SampleInterval));
        }

        var finished = await all;
        var loadSeconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        samples.Add(await SampleAsync(metrics, workload, loadSeconds));
        foreach (var stats in finished.Where(s => s.Errors.Count > 0))
        {
            foreach (var (key, count) in stats.Errors)
            {
                await log.WriteLineAsync($"  error {key}: {count}");
            }
        }

        MemorySample? afterDrain = null;
        if (drain is { } wait)
        {
            // Unreported grants expire after the grant TTL and are swept: the book should empty.
            await log.WriteLineAsync($"  waiting {wait.TotalSeconds:0} s for unreported grants to expire");
            await Task.Delay(wait);
            afterDrain = await SampleAsync(metrics, workload, Stopwatch.GetElapsedTime(started).TotalSeconds);
        }

        // Growth is fitted once the books are full (after the warm-up, from the first sample with
        // 90 % of the run's most active reservations): until then memory rises with the live grants
        // (rate x TTL) towards its steady size, which is not growth per grant.
        var peakActive = samples.Count > 0 ? samples.Max(s => s.ActiveReservations) : 0;
        var full = samples.FirstOrDefault(s => s.Seconds >= options.WarmupTime.TotalSeconds && s.ActiveReservations >= 0.9 * peakActive);
        var measured = full is null ? [] : samples.Where(s => s.Seconds >= full.Seconds).ToList();
        if (measured.Count < 4)
        {
            // Too short a run to see the books full: fit after the warm-up, or over everything.
            measured = samples.Where(s => s.Seconds >= options.WarmupTime.TotalSeconds).ToList();
        }

        if (measured.Count < 4)
        {
            measured = samples;
        }

        var fifth = Math.Max(1, measured.Count / 5);
        var first = measured.Take(fifth).ToList();
        var lastFifth = measured.TakeLast(fifth).ToList();
        return new MemoryResult(
            samples,
            afterDrain,
            measured[0].Seconds,
            first.Average(s => s.GcHeapBytes),
            lastFifth.Average(s => s.GcHeapBytes),
            Slope(measured, s => s.GcHeapBytes),
            first.Average(s => s.WorkingSetBytes),
            lastFifth.Average(s => s.WorkingSetBytes),
            Slope(measured, s => s.WorkingSetBytes),
            measured[^1].GrantsIssued - measured[0].GrantsIssued,
            samples[^1].GrantsIssued / loadSeconds);
    }

    private static async Task<MemorySample> SampleAsync(MetricsScraper metrics, Workload workload, double seconds)
    {
        var values = await metrics.ScrapeAsync();
        return new MemorySample(
            seconds,
            workload.GrantsIssued,
            workload.GrantsSettled,
            workload.GrantsLeftToExpire,
            values.GetValueOrDefault("taskbudgets_active_reservations"),
            values.GetValueOrDefault("dotnet_gc_last_collection_heap_size_bytes"),
            values.GetValueOrDefault("dotnet_process_memory_working_set_bytes"),
            values.GetValueOrDefault("dotnet_gc_last_collection_memory_committed_size_bytes"));
    }

    /// <summary>Least-squares slope of a memory figure against grants issued: bytes per grant.</summary>
    private static double Slope(List<MemorySample> samples, Func<MemorySample, double> y)
    {
        if (samples.Count < 2)
        {
            return 0;
        }

        var meanX = samples.Average(s => (double)s.GrantsIssued);
        var meanY = samples.Average(y);
        double num = 0, den = 0;
        foreach (var s in samples)
        {
            var dx = s.GrantsIssued - meanX;
            num += dx * (y(s) - meanY);
            den += dx * dx;
        }

        return den == 0 ? 0 : num / den;
    }
}
