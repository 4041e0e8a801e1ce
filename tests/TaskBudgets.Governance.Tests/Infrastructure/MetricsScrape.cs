using System.Globalization;
using System.Text.RegularExpressions;

namespace TaskBudgets.Governance.Tests.Infrastructure;

/// <summary>One scrape of a server's /metrics in the Prometheus text format: its families' types and its samples.</summary>
public sealed partial class MetricsScrape
{
    private MetricsScrape(Dictionary<string, string> types, List<Sample> samples)
    {
        Types = types;
        Samples = samples;
    }

    /// <summary>Each family's type (counter, gauge, histogram ...) by family name.</summary>
    public IReadOnlyDictionary<string, string> Types { get; }

    public IReadOnlyList<Sample> Samples { get; }

    /// <summary>The names of the samples, with the _bucket/_sum/_count series of histograms as they are queried.</summary>
    public IEnumerable<string> SampleNames => Samples.Select(s => s.Name).Distinct();

    public static async Task<MetricsScrape> ReadAsync(Uri httpAddress)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        return Parse(await http.GetStringAsync(new Uri(httpAddress, "/metrics")));
    }

    public static MetricsScrape Parse(string text)
    {
        var types = new Dictionary<string, string>(StringComparer.Ordinal);
        var samples = new List<Sample>();
        foreach (var line in text.Split('\n'))
        {
            if (line.StartsWith("# TYPE ", StringComparison.Ordinal))
            {
                var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                types[parts[2]] = parts[3];
            }
            else if (line.Length > 0 && line[0] != '#' && SampleLine().Match(line) is { Success: true } match)
            {
                var labels = LabelPair().Matches(match.Groups["labels"].Value).ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value);
                samples.Add(new Sample(match.Groups["name"].Value, labels, match.Groups["value"].Value));
            }
        }

        return new MetricsScrape(types, samples);
    }

    /// <summary>The finite bucket boundaries (le) of a histogram family, ascending.</summary>
    public IReadOnlyList<double> Boundaries(string histogram) =>
        [.. Samples.Where(s => s.Name == histogram + "_bucket" && s.Labels.GetValueOrDefault("le") is { } le && le != "+Inf")
            .Select(s => double.Parse(s.Labels["le"], CultureInfo.InvariantCulture)).Distinct().Order()];

    public sealed record Sample(string Name, IReadOnlyDictionary<string, string> Labels, string Value);

    [GeneratedRegex("^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\\{(?<labels>.*)\\})?\\s+(?<value>\\S+)")]
    private static partial Regex SampleLine();

    [GeneratedRegex("([a-zA-Z_][a-zA-Z0-9_]*)=\"((?:[^\"\\\\]|\\\\.)*)\"")]
    private static partial Regex LabelPair();
}
