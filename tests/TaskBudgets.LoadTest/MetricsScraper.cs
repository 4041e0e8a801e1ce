using System.Globalization;

namespace TaskBudgets.LoadTest;

/// <summary>Reads gauges and counters from the server's Prometheus endpoint (/metrics).</summary>
internal sealed class MetricsScraper(Uri httpAddress) : IDisposable
{
    private readonly HttpClient http = new() { BaseAddress = httpAddress, Timeout = TimeSpan.FromSeconds(10) };

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
                var name = line[..nameEnd];
                values[name] = values.GetValueOrDefault(name) + value;
            }
        }

        return values;
    }

    public async Task<double?> CpuSecondsAsync()
    {
        try
        {
            return (await ScrapeAsync()).TryGetValue("dotnet_process_cpu_time_seconds_total", out var cpu) ? cpu : null;
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
