using System.Diagnostics;
using System.Text.Json;
using TaskBudgets.Governance.Tests.Infrastructure;
using TaskBudgets.V1;

namespace TaskBudgets.Governance.Tests.Processes;

/// <summary>A real Prometheus scrapes a started server and answers a query about real calls.</summary>
public sealed class PrometheusScrapeTests
{
    [Fact]
    public async Task Prometheus_scrapes_the_server_and_answers_a_query()
    {
        var binary = new[] { "/usr/bin/prometheus", "/usr/local/bin/prometheus" }.FirstOrDefault(File.Exists)
            ?? throw new InvalidOperationException("This test needs Prometheus: apt-get install prometheus (scripts/test.sh does it as root).");
        using var directory = new TempDirectory();
        await using var server = await ServerProcess.StartAsync(directory.Path, directory.WithTestPolicy());
        for (var i = 0; i < 3; i++)
        {
            await server.Budgets.GetBudgetAsync(new GetBudgetRequest { OrgId = "acme", TaskType = "t", Model = "gpt-test" });
        }

        var port = FreePort.Next();
        var config = Path.Combine(directory.Path, "prometheus.yml");
        await File.WriteAllTextAsync(config, $"""
            global:
              scrape_interval: 1s
            scrape_configs:
              - job_name: taskbudgets
                static_configs:
                  - targets: ["127.0.0.1:{server.HttpPort}"]
            """);
        var info = new ProcessStartInfo(binary) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var argument in new[] { $"--config.file={config}", $"--web.listen-address=127.0.0.1:{port}", $"--storage.tsdb.path={Path.Combine(directory.Path, "tsdb")}" })
        {
            info.ArgumentList.Add(argument);
        }

        using var prometheus = Process.Start(info)!;
        prometheus.BeginErrorReadLine();
        prometheus.BeginOutputReadLine();
        try
        {
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
            var query = Uri.EscapeDataString("sum(taskbudgets_grants_total{job=\"taskbudgets\",decision=\"granted\",model_family=\"openai\"})");
            double? answer = null;
            for (var attempt = 0; attempt < 120 && answer != 3; attempt++)
            {
                await Task.Delay(500);
                try
                {
                    using var json = JsonDocument.Parse(await http.GetStringAsync(new Uri($"http://127.0.0.1:{port}/api/v1/query?query={query}")));
                    var result = json.RootElement.GetProperty("data").GetProperty("result");
                    if (result.GetArrayLength() == 1)
                    {
                        answer = double.Parse(result[0].GetProperty("value")[1].GetString()!, System.Globalization.CultureInfo.InvariantCulture);
                    }
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
                {
                    // Still starting, or slow to answer on a busy machine.
                }
            }

            Assert.Equal(3, answer);
        }
        finally
        {
            prometheus.Kill(entireProcessTree: true);
            await prometheus.WaitForExitAsync();
        }
    }

}
