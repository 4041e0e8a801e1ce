using System.Diagnostics;

namespace TaskBudgets.LoadTest;

/// <summary>What one phase (the baseline or the target) measured.</summary>
internal sealed class PhaseResult(string name)
{
    public string Name { get; } = name;

    public LatencyHistogram Latency { get; } = new();

    public Dictionary<string, LatencyHistogram> Stages { get; } = new(StringComparer.Ordinal);

    public Dictionary<string, long> Errors { get; } = new(StringComparer.Ordinal);

    public double Seconds { get; set; }

    /// <summary>How much the server's own counters (<see cref="MetricsScraper.Counters"/>) grew in the measured window.</summary>
    public Dictionary<string, double> ServerCounters { get; } = new(StringComparer.Ordinal);

    public long Ok => Latency.Count;

    public long ErrorCount => Errors.Values.Sum();

    public double Throughput => Seconds > 0 ? Ok / Seconds : 0;

    /// <summary>CPU seconds the load generator used in the measured window.</summary>
    public double ClientCpuSeconds { get; set; }

    /// <summary>Collections the load generator's own GC made in the measured window.</summary>
    public long ClientCollections { get; set; }

    /// <summary>Seconds the load generator's own GC paused it in the measured window.</summary>
    public double ClientGcPauseSeconds { get; set; }

    /// <summary>CPU seconds the server used in the measured window (from its /metrics), if known.</summary>
    public double? ServerCpuSeconds { get; set; }

    public void Add(WorkerStats worker)
    {
        Latency.Add(worker.Total);
        foreach (var (stage, histogram) in worker.Stages)
        {
            if (!Stages.TryGetValue(stage, out var mine))
            {
                Stages[stage] = mine = new LatencyHistogram();
            }

            mine.Add(histogram);
        }

        foreach (var (key, count) in worker.Errors)
        {
            Errors[key] = Errors.GetValueOrDefault(key) + count;
        }
    }

    public void Add(PhaseResult other)
    {
        Latency.Add(other.Latency);
        foreach (var (stage, histogram) in other.Stages)
        {
            if (!Stages.TryGetValue(stage, out var mine))
            {
                Stages[stage] = mine = new LatencyHistogram();
            }

            mine.Add(histogram);
        }

        foreach (var (key, count) in other.Errors)
        {
            Errors[key] = Errors.GetValueOrDefault(key) + count;
        }

        foreach (var (key, value) in other.ServerCounters)
        {
            ServerCounters[key] = ServerCounters.GetValueOrDefault(key) + value;
        }

        Seconds += other.Seconds;
        ClientCpuSeconds += other.ClientCpuSeconds;
        ClientCollections += other.ClientCollections;
        ClientGcPauseSeconds += other.ClientGcPauseSeconds;
        ServerCpuSeconds = ServerCpuSeconds is { } a && other.ServerCpuSeconds is { } b ? a + b : null;
    }
}

/// <summary>
/// A closed loop: <c>concurrency</c> workers, each with one call in flight, starting its next call
/// when the last one ends. Calls that start and end inside the measured window are counted.
/// </summary>
internal static class ClosedLoop
{
    public static async Task<PhaseResult> RunAsync(
        string name,
        int concurrency,
        TimeSpan warmup,
        TimeSpan duration,
        Func<int, LoadOperation> operations,
        IServerCounters? server,
        TextWriter log)
    {
        var workers = Enumerable.Range(0, concurrency).Select(i => (Stats: new WorkerStats(), Operation: operations(i))).ToArray();
        var start = Stopwatch.GetTimestamp();
        var recordFrom = start + (long)(warmup.TotalSeconds * Stopwatch.Frequency);
        var recordUntil = recordFrom + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        await log.WriteLineAsync($"{name}: {concurrency} in flight, {warmup.TotalSeconds:0.#} s warm-up, {duration.TotalSeconds:0.#} s measured");

        // CPU use of both processes, and the server's own counters, over the measured window only.
        var window = Task.Run(async () =>
        {
            await Task.Delay(TimeSpan.FromTicks(Math.Max(0, Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), recordFrom).Ticks)));
            var clientBefore = Process.GetCurrentProcess().TotalProcessorTime;
            var (collectionsBefore, pausedBefore) = (GC.CollectionCount(0), GC.GetTotalPauseDuration());
            var serverBefore = server is null ? null : await server.TryScrapeAsync();
            await Task.Delay(TimeSpan.FromTicks(Math.Max(0, Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), recordUntil).Ticks)));
            var clientAfter = Process.GetCurrentProcess().TotalProcessorTime;
            var (collectionsAfter, pausedAfter) = (GC.CollectionCount(0), GC.GetTotalPauseDuration());
            var serverAfter = server is null ? null : await server.TryScrapeAsync();
            return ((clientAfter - clientBefore).TotalSeconds, collectionsAfter - collectionsBefore, (pausedAfter - pausedBefore).TotalSeconds, serverBefore, serverAfter);
        });

        await Task.WhenAll(workers.Select(w => Task.Run(() => WorkAsync(w.Stats, w.Operation, recordFrom, recordUntil))));
        var result = new PhaseResult(name) { Seconds = duration.TotalSeconds };
        foreach (var (stats, _) in workers)
        {
            result.Add(stats);
        }

        var (clientCpu, collections, paused, before, after) = await window;
        result.ClientCpuSeconds = clientCpu;
        result.ClientCollections = collections;
        result.ClientGcPauseSeconds = paused;
        if (before is not null && after is not null)
        {
            foreach (var (metric, value) in after)
            {
                if (MetricsScraper.Counters.Any(metric.StartsWith))
                {
                    result.ServerCounters[metric] = value - before.GetValueOrDefault(metric);
                }
            }

            result.ServerCpuSeconds = result.ServerCounters.GetValueOrDefault(MetricsScraper.CpuTime);
        }
        return result;
    }

    private static async Task WorkAsync(WorkerStats stats, LoadOperation operation, long recordFrom, long recordUntil)
    {
        while (true)
        {
            var started = Stopwatch.GetTimestamp();
            if (started >= recordUntil)
            {
                return;
            }

            var recording = started >= recordFrom;
            string? error;
            try
            {
                error = await operation(stats, recording);
            }
            catch (Exception e) when (e is HttpRequestException or IOException or OperationCanceledException or InvalidOperationException)
            {
                error = e.GetType().Name;
            }

            var ended = Stopwatch.GetTimestamp();
            if (!recording || ended > recordUntil)
            {
                continue;
            }

            if (error is null)
            {
                stats.Total.RecordTicks(ended - started);
            }
            else
            {
                stats.CountError(error);
            }
        }
    }
}
