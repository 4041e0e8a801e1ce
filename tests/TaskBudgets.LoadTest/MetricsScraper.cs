using System.Globalization;

namespace TaskBudgets.LoadTest;

/// <summary>Where a phase reads the server's counters before and after its measured window.</summary>
internal interface IServerCounters
{
    /// <summary>Every counter by name, or null when they cannot be read.</summary>
    Task<Dictionary<string, double>?> TryScrapeAsync();
}

/// <summary>Reads gauges and counters from the server's Prometheus endpoint (/metrics).</summary>
internal sealed class MetricsScraper(Uri httpAddress) : IServerCounters, IDisposable
{
    /// <summary>The process's CPU time in seconds.</summary>
    public const string CpuTime = "dotnet_process_cpu_time_seconds_total";

    private readonly HttpClient http = new() { BaseAddress = httpAddress, Timeout = TimeSpan.FromSeconds(10) };

    /// <summary>Server counters worth a delta over a measured window (prefixes of Prometheus names, label sets summed or split).</summary>
    public static readonly string[] Counters =
    [
        CpuTime,
        "dotnet_gc_collections_total",
        "dotnet_gc_pause_time_seconds_total",
        "dotnet_gc_heap_total_allocated_bytes_total",
        "dotnet_monitor_lock_contentions_total",
        "dotnet_thread_pool_work_item_count_total",
        "taskbudgets_lease_operations_total",
        "taskbudgets_report_batch_size",
        "taskbudgets_report_flush_duration_seconds_sum",
        "taskbudgets_report_flush_duration_seconds_count",
    ];

    public Uri Address => http.BaseAddress!;

    /// <summary>Every sample, summed over label sets, by metric name.</summary>
    public async Task<Dictionary<string, double>> ScrapeAsync()
    {
        var text = await http.GetStringAsync(new Uri("/metrics", UriKind.Relative));
        var values = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var line in text.Split('\n'))
        {
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            var nameEnd = line.IndexOfAny(['{', ' ']);
            var valueStart = line.LastIndexOf(' ');
            if (nameEnd <= 0 || valueStart <= nameEnd)
            {
                continue;
            }

            // "name{labels} value" or "name value" (a trailing timestamp is not used by this exporter).
            if (double.TryParse(line.AsSpan(valueStart + 1), NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
            {
                // Lease operations are kept per operation and outcome; everything else summed over labels.
                var name = line.StartsWith("taskbudgets_lease_operations_total", StringComparison.Ordinal) ? line[..valueStart] : line[..nameEnd];
                values[name] = values.GetValueOrDefault(name) + value;
            }
        }

        return values;
    }

    public async Task<double?> CpuSecondsAsync() =>
        await TryScrapeAsync() is { } values && values.TryGetValue(CpuTime, out var cpu) ? cpu : null;

    /// <summary>A scrape, or null when the endpoint does not answer.</summary>
    public async Task<Dictionary<string, double>?> TryScrapeAsync()
    {
        try
        {
            return await ScrapeAsync();
        }
        catch (HttpRequestException)
        {
            return null;
        }
        catch (TaskCanceledException)
        {
            return null;
        }
    }

    public void Dispose() => http.Dispose();
}
