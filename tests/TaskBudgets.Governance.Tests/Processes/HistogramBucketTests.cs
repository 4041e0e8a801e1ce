using TaskBudgets.Governance.Tests.Infrastructure;

namespace TaskBudgets.Governance.Tests.Processes;

/// <summary>
/// A quantile is only as good as the bucket boundaries around it: every histogram a running server
/// exports has boundaries fit for its unit. Without advice the exporter uses 0, 5, 10, 25 ... 10000,
/// meant for milliseconds, and a seconds histogram then puts every value in its first bucket.
/// </summary>
public sealed class HistogramBucketTests
{
    private static readonly double[] ExporterDefaults = [0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000];

    [Fact]
    public async Task Every_exported_histogram_has_boundaries_fit_for_its_unit()
    {
        using var directory = new TempDirectory();
        await using var server = await ServerProcess.StartAsync(directory.Path, directory.WithTestPolicy());
        await LightLoad.RunAsync(server, "acme", calls: 6);

        // Reports are committed in the background; the flush histogram follows the commit.
        var scrape = await MetricsScrape.ReadAsync(server.HttpAddress);
        for (var attempt = 0; attempt < 20 && !scrape.SampleNames.Contains("taskbudgets_report_flush_duration_seconds_bucket"); attempt++)
        {
            await Task.Delay(500);
            scrape = await MetricsScrape.ReadAsync(server.HttpAddress);
        }

        var histograms = scrape.Types.Where(t => t.Value == "histogram").Select(t => t.Key).Order().ToList();
        Assert.Superset(
            new HashSet<string> { "taskbudgets_report_flush_duration_seconds", "taskbudgets_rpc_duration_seconds", "taskbudgets_usage_ratio", "taskbudgets_report_batch_size" },
            new HashSet<string>(histograms));

        var problems = new List<string>();
        foreach (var histogram in histograms)
        {
            var le = scrape.Boundaries(histogram);
            var shown = $"{histogram} [{string.Join(", ", le)}]";
            if (le.Count == 0 || le.SequenceEqual(ExporterDefaults))
            {
                problems.Add($"{shown}: the exporter's default boundaries");
            }
            else if (histogram.EndsWith("_seconds", StringComparison.Ordinal))
            {
                // Milliseconds apart below a second, and a bucket past it to tell slow from very slow.
                if (le[0] > 0.01 || le.Count(b => b < 1) < 5 || le[^1] < 1)
                {
                    problems.Add($"{shown}: a seconds histogram needs boundaries from 10 ms or below, five or more under a second, and one at a second or more");
                }
            }
            else if (histogram.EndsWith("_ratio", StringComparison.Ordinal))
            {
                if (le[0] <= 0 || le[0] > 0.1 || le[^1] < 1 || le[^1] > 10)
                {
                    problems.Add($"{shown}: a ratio histogram needs boundaries between 0.1 or below and 1 or above (at most 10)");
                }
            }
            else if (le[0] < 1 || le.Any(b => b != Math.Floor(b)))
            {
                problems.Add($"{shown}: a count histogram needs whole boundaries from 1");
            }
        }

        Assert.Empty(problems);
    }
}
