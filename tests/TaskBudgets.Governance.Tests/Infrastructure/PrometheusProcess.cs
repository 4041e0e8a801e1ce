using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace TaskBudgets.Governance.Tests.Infrastructure;

/// <summary>
/// The machine's Prometheus (the apt package) scraping servers of a test every second, with rule
/// files of the test's choosing evaluated every second; queried through its HTTP API.
/// </summary>
public sealed class PrometheusProcess : IAsyncDisposable
{
    private readonly Process process;
    private readonly HttpClient http = new() { Timeout = TimeSpan.FromSeconds(10) };
    private readonly System.Text.StringBuilder output = new();

    private PrometheusProcess(Process process, int port)
    {
        this.process = process;
        Address = new Uri($"http://127.0.0.1:{port}");
    }

    public Uri Address { get; }

    /// <summary>What Prometheus printed, for a failure's message.</summary>
    public string Output
    {
        get
        {
            lock (output)
            {
                return output.ToString();
            }
        }
    }

    /// <summary>Starts Prometheus with job <paramref name="job"/> scraping <paramref name="targets"/> (host:port of /metrics).</summary>
    public static PrometheusProcess Start(string directory, string job, IEnumerable<string> targets, IEnumerable<string>? ruleFiles = null)
    {
        var binary = new[] { "/usr/bin/prometheus", "/usr/local/bin/prometheus" }.FirstOrDefault(File.Exists)
            ?? throw new InvalidOperationException("This test needs Prometheus: apt-get install prometheus (scripts/test.sh does it as root).");
        var port = FreePort.Next();
        var config = Path.Combine(directory, "prometheus.yml");
        var rules = string.Join("\n", (ruleFiles ?? []).Select(f => $"  - \"{f}\""));
        File.WriteAllText(config, $"""
            global:
              scrape_interval: 1s
              evaluation_interval: 1s
            rule_files:
            {rules}
            scrape_configs:
              - job_name: {job}
                static_configs:
                  - targets: [{string.Join(", ", targets.Select(t => $"\"{t}\""))}]
            """);
        var info = new ProcessStartInfo(binary) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var argument in new[] { $"--config.file={config}", $"--web.listen-address=127.0.0.1:{port}", $"--storage.tsdb.path={Path.Combine(directory, "tsdb")}" })
        {
            info.ArgumentList.Add(argument);
        }

        var started = new PrometheusProcess(Process.Start(info)!, port);
        started.process.ErrorDataReceived += (_, e) => started.Append(e.Data);
        started.process.OutputDataReceived += (_, e) => started.Append(e.Data);
        started.process.BeginErrorReadLine();
        started.process.BeginOutputReadLine();
        return started;
    }

    /// <summary>The instant vector of <paramref name="promql"/>: each series' labels and value; null while Prometheus cannot answer.</summary>
    public async Task<IReadOnlyList<(JsonObject Labels, double Value)>?> QueryAsync(string promql)
    {
        var data = await GetDataAsync("/api/v1/query?query=" + Uri.EscapeDataString(promql));
        return data?["result"] is JsonArray result
            ? [.. result.OfType<JsonObject>().Select(r => ((JsonObject)r["metric"]!, double.Parse((string)r["value"]![1]!, CultureInfo.InvariantCulture)))]
            : null;
    }

    /// <summary>The alerts Prometheus holds now (pending or firing), each with its labels and state; null while it cannot answer.</summary>
    public async Task<IReadOnlyList<JsonObject>?> AlertsAsync()
    {
        var data = await GetDataAsync("/api/v1/alerts");
        return data?["alerts"] is JsonArray alerts ? [.. alerts.OfType<JsonObject>()] : null;
    }

    /// <summary>Polls <paramref name="condition"/> every half second until it holds or <paramref name="limit"/> has passed.</summary>
    public static async Task<bool> WaitUntilAsync(Func<Task<bool>> condition, TimeSpan limit)
    {
        ArgumentNullException.ThrowIfNull(condition);
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < limit)
        {
            if (await condition())
            {
                return true;
            }

            await Task.Delay(500);
        }

        return await condition();
    }

    private async Task<JsonNode?> GetDataAsync(string path)
    {
        try
        {
            using var response = await http.GetAsync(new Uri(Address, path));
            if (!response.IsSuccessStatusCode)
            {
                return null;
            }

            var body = JsonNode.Parse(await response.Content.ReadAsStringAsync());
            return (string?)body?["status"] == "success" ? body!["data"] : null;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException)
        {
            // Still starting, or slow to answer on a busy machine.
            return null;
        }
    }

    private void Append(string? line)
    {
        if (line is not null)
        {
            lock (output)
            {
                output.AppendLine(line);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        http.Dispose();
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
        }

        await process.WaitForExitAsync();
        process.Dispose();
    }
}
