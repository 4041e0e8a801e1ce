using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using TaskBudgets.Governance.Tests.Deployment.Manifests;
using TaskBudgets.Governance.Tests.Deployment.Tools;
using static TaskBudgets.Governance.Tests.Deployment.Manifests.RenderedChart;

namespace TaskBudgets.Governance.Tests.Deployment;

/// <summary>deploy/prometheus: the scrape configuration and the alert rules, as Prometheus's own tool reads them.</summary>
public sealed partial class PrometheusFilesTests
{
    private static readonly string Folder = Path.Combine(Repository.Root, "deploy", "prometheus");

    [Fact]
    public async Task Alert_rules_pass_promtool() =>
        (await Promtool.RunAsync("check", "rules", Path.Combine(Folder, "alerts.yml"))).Succeeded();

    [Fact]
    public async Task Scrape_configuration_passes_promtool() =>
        (await Promtool.RunAsync("check", "config", Path.Combine(Folder, "prometheus.yml"))).Succeeded();

    [Fact]
    public async Task Each_alert_fires_on_its_failure_and_stays_quiet_otherwise() =>
        (await Promtool.RunAsync("test", "rules", Path.Combine(Folder, "alerts.test.yml"))).Succeeded();

    [Fact]
    public void Every_alert_has_a_severity_a_summary_and_a_runbook_section_that_exists()
    {
        var anchors = RunbookAnchors(File.ReadAllLines(Path.Combine(Repository.Root, "docs", "operations.md")));
        var alerts = Alerts().ToList();
        var problems = new Problems();
        foreach (var alert in alerts)
        {
            var name = Text(alert["alert"]);
            foreach (var key in new[] { "summary", "description", "runbook_url" })
            {
                problems.Expect(!string.IsNullOrEmpty(Text(alert["annotations"]?[key])), $"{name}: annotation {key} missing");
            }

            problems.Expect(Text(alert["labels"]?["severity"]) is "warning" or "critical" or "info", $"{name}: no severity label");
            var runbook = Regex.Match(Text(alert["annotations"]?["runbook_url"]) ?? "", "^docs/operations\\.md#(.+)$");
            if (problems.Expect(runbook.Success, $"{name}: runbook_url is not docs/operations.md#anchor"))
            {
                problems.Expect(anchors.Contains(runbook.Groups[1].Value), $"{name}: docs/operations.md has no #{runbook.Groups[1].Value}");
            }
        }

        problems.Expect(alerts.Select(a => Text(a["alert"])).Distinct().Count() == alerts.Count, "duplicate alert names");
        problems.AssertNone("alerts.yml");
    }

    [Fact]
    public void Alerts_watch_grants_denials_truncations_quotas_report_flushes_and_scrapes()
    {
        var expressions = string.Join('\n', Alerts().Select(a => Text(a["expr"])));
        var missing = new[]
        {
            "taskbudgets_grants_total", "taskbudgets_denials_total", "taskbudgets_truncations_total", "taskbudgets_quota_utilization_ratio",
            "taskbudgets_report_flush_failures_total", "taskbudgets_report_flush_duration_seconds_bucket", "up{",
        }.Where(metric => !expressions.Contains(metric, StringComparison.Ordinal));
        Assert.Empty(missing);
    }

    /// <summary>Every alert rule of deploy/prometheus/alerts.yml.</summary>
    public static IEnumerable<JsonObject> Alerts() =>
        Objects(Yaml.Load(Path.Combine(Folder, "alerts.yml"))!["groups"]).SelectMany(g => Objects(g["rules"])).Where(r => r["alert"] is not null);

    /// <summary>GitHub's anchors for the Markdown headings, and explicit &lt;a id&gt; anchors.</summary>
    private static HashSet<string> RunbookAnchors(IEnumerable<string> lines)
    {
        var anchors = new HashSet<string>(StringComparer.Ordinal);
        foreach (var line in lines)
        {
            var heading = Heading().Match(line);
            if (heading.Success)
            {
                anchors.Add(NotSlug().Replace(heading.Groups[1].Value.Trim().ToLowerInvariant(), "").Replace(' ', '-'));
            }

            foreach (Match anchor in ExplicitAnchor().Matches(line))
            {
                anchors.Add(anchor.Groups[1].Value);
            }
        }

        return anchors;
    }

    [GeneratedRegex("^#{1,6}\\s+(.*)$")]
    private static partial Regex Heading();

    [GeneratedRegex("[^\\w\\- ]")]
    private static partial Regex NotSlug();

    [GeneratedRegex("<a\\s+(?:id|name)=\"([^\"]+)\"")]
    private static partial Regex ExplicitAnchor();
}
