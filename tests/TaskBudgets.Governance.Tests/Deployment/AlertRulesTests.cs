using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Grpc.Core;
using TaskBudgets.Governance.Tests.Deployment.Manifests;
using TaskBudgets.Governance.Tests.Infrastructure;
using TaskBudgets.V1;
using static TaskBudgets.Governance.Tests.Deployment.Manifests.RenderedChart;

namespace TaskBudgets.Governance.Tests.Deployment;

/// <summary>
/// The shipped alert rules against the real thing: their promtool cases are fed only series a
/// running server exports, and a real Prometheus scraping a real server evaluates them, quiet under
/// light load and firing on a quota near its limit and on a database that went away.
/// </summary>
public sealed partial class AlertRulesTests
{
    /// <summary>Labels Prometheus adds to what it scrapes, which the server never exports.</summary>
    private static readonly string[] TargetLabels = ["job", "instance", "namespace", "pod"];

    private static readonly string Folder = Path.Combine(Repository.Root, "deploy", "prometheus");

    [Fact]
    public async Task Promtool_cases_feed_only_series_and_buckets_a_running_server_exports()
    {
        using var directory = new TempDirectory();
        var settings = directory.WithTestPolicy();
        settings["Telemetry:OrgLabels:0"] = "acme";
        await using var server = await ServerProcess.StartAsync(directory.Path, settings);
        await LightLoad.RunAsync(server, "acme", calls: 4);
        await AlertMetricsTests.CauseEveryAlertableEventAsync(server.Budgets);
        var scrape = await MetricsScrape.ReadAsync(server.HttpAddress);
        for (var attempt = 0; attempt < 20 && !scrape.SampleNames.Contains("taskbudgets_truncations_total"); attempt++)
        {
            await Task.Delay(500);
            scrape = await MetricsScrape.ReadAsync(server.HttpAddress);
        }

        var fed = Objects(Yaml.Load(Path.Combine(Folder, "alerts.test.yml"))!["tests"])
            .SelectMany(test => Objects(test["input_series"]).Select(s => (Test: Text(test["name"]), Series: Text(s["series"])!)))
            .ToList();
        Assert.NotEmpty(fed);
        var problems = new Problems();
        foreach (var (test, series) in fed)
        {
            var match = SeriesSelector().Match(series);
            var name = match.Groups["name"].Value;
            var labels = LabelPair().Matches(match.Groups["labels"].Value).ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value);
            if (name == "up")
            {
                continue; // Prometheus's own series for each target.
            }

            var exported = scrape.Samples.Where(s => s.Name == name).ToList();
            if (!problems.Expect(exported.Count > 0, $"{test}: {name} is not exported"))
            {
                continue;
            }

            var keys = labels.Keys.Except(TargetLabels).Order().ToList();
            problems.Expect(
                exported.Any(s => s.Labels.Keys.Order().SequenceEqual(keys)),
                $"{test}: {series} has labels [{string.Join(", ", keys)}]; the server exports {name} with [{string.Join("] or [", exported.Select(s => string.Join(", ", s.Labels.Keys.Order())).Distinct())}]");
            foreach (var (key, value) in labels.Where(l => l.Key is "otel_scope_name" or "le"))
            {
                problems.Expect(exported.Any(s => s.Labels.GetValueOrDefault(key) == value), $"{test}: {series}: the server never exports {key}=\"{value}\" on {name}");
            }
        }

        problems.AssertNone("alerts.test.yml");
    }

    [Fact]
    public async Task Shipped_alerts_stay_quiet_under_light_load_then_fire_on_a_quota_near_its_limit_and_on_storage_down()
    {
        // A PostgreSQL of this test's own: it is stopped midway.
        await using var postgres = new PostgresServer();
        using var directory = new TempDirectory();
        var settings = directory.WithTestPolicy(TestPolicy.Yaml + """

              - id: near
                tier: standard
                quotas:
                  - metric: requests
                    window: day
                    limit: 10
            """);
        settings["Storage:Provider"] = "PostgreSql";
        settings["ConnectionStrings:Governance"] = await postgres.CreateDatabaseAsync();
        settings["Telemetry:OrgLabels:0"] = "near";
        settings["Calibration:SyncInterval"] = "00:00:01";
        await using var server = await ServerProcess.StartAsync(directory.Path, settings);

        // Warm: the first calls' start-up costs (JIT, first connections) come before the first scrape.
        await LightLoad.RunAsync(server, "acme", calls: 6);

        // The shipped rules with only their `for:` durations shortened (minutes would make this
        // test take half an hour); the expressions, thresholds and labels are the shipped ones.
        var rules = Path.Combine(directory.Path, "alerts.yml");
        await File.WriteAllTextAsync(rules, ForDuration().Replace(await File.ReadAllTextAsync(Path.Combine(Folder, "alerts.yml")), "${indent}for: 5s"));
        await using var prometheus = PrometheusProcess.Start(directory.Path, "taskbudgets", [$"127.0.0.1:{server.HttpPort}"], [rules]);
        Assert.True(
            await PrometheusProcess.WaitUntilAsync(async () => await prometheus.QueryAsync("up{job=\"taskbudgets\"} == 1") is [_], TimeSpan.FromSeconds(90)),
            "Prometheus never scraped the server:\n" + prometheus.Output);

        // Light load for longer than the shortened `for:` and a few evaluations.
        var load = System.Diagnostics.Stopwatch.StartNew();
        while (load.Elapsed < TimeSpan.FromSeconds(20))
        {
            await LightLoad.RunAsync(server, "acme", calls: 2);
            await Task.Delay(250);
        }

        var quiet = await prometheus.AlertsAsync();
        Assert.NotNull(quiet);
        Assert.True(quiet.Count == 0, "Alerts under light load: " + string.Join("; ", quiet.Select(a => a.ToJsonString())));

        // A quota near its limit: org near may make 10 requests a day, and makes them all.
        for (var i = 0; i < 10; i++)
        {
            try
            {
                await server.Budgets.GetBudgetAsync(new GetBudgetRequest { OrgId = "near", TaskType = "t", Model = "claude-test" });
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.ResourceExhausted)
            {
                // A lease sized for a near-full quota may refuse the last one: the quota is full all the same.
            }
        }

        var quota = await FiringAsync(prometheus, "TaskBudgetsQuotaNearExhaustion");
        Assert.True(quota is not null, "TaskBudgetsQuotaNearExhaustion did not fire:\n" + prometheus.Output);
        Assert.Equal("near", Text(quota["labels"]?["org"]));
        Assert.Equal("requests", Text(quota["labels"]?["metric"]));
        Assert.Contains("org near", Text(quota["annotations"]?["summary"]), StringComparison.Ordinal);

        // Every dashboard query answers with a value now: nothing shows "No data".
        var blank = new List<string>();
        foreach (var (panel, expr) in DashboardTests.Queries())
        {
            if (await prometheus.QueryAsync(DashboardTests.WithVariables(expr)) is not { Count: > 0 })
            {
                blank.Add($"{panel}: {expr}");
            }
        }

        Assert.True(blank.Count == 0, "Dashboard queries without a value:\n" + string.Join("\n", blank));

        // Storage down: grants taken before keep coming in as reports, which cannot be committed.
        var grants = new List<string>();
        for (var i = 0; i < 20; i++)
        {
            grants.Add((await server.Budgets.GetBudgetAsync(new GetBudgetRequest { OrgId = "acme", TaskType = "t", Model = "claude-test" })).GrantId);
        }

        await postgres.StopAsync();
        JsonObject? flush = null;
        await PrometheusProcess.WaitUntilAsync(
            async () =>
            {
                if (grants.Count > 0)
                {
                    var report = new ReportUsageRequest { GrantId = grants[^1], Usage = new UsageTokens { OutputTokens = 100 }, StopReason = StopReason.EndTurn };
                    grants.RemoveAt(grants.Count - 1);
                    var refused = await Assert.ThrowsAsync<RpcException>(() => server.Budgets.ReportUsageAsync(report).ResponseAsync);
                    Assert.Equal(StatusCode.Unavailable, refused.StatusCode);
                }

                flush = await FiringAsync(prometheus, "TaskBudgetsReportFlushFailing", wait: false);
                return flush is not null;
            },
            TimeSpan.FromSeconds(90));
        Assert.True(flush is not null, "TaskBudgetsReportFlushFailing did not fire:\n" + prometheus.Output);
        Assert.Equal("critical", Text(flush["labels"]?["severity"]));
    }

    /// <summary>The firing alert of that name (within a minute and a half unless <paramref name="wait"/> is false), or null.</summary>
    private static async Task<JsonObject?> FiringAsync(PrometheusProcess prometheus, string name, bool wait = true)
    {
        JsonObject? firing = null;
        await PrometheusProcess.WaitUntilAsync(
            async () =>
            {
                firing = (await prometheus.AlertsAsync() ?? []).FirstOrDefault(a => Text(a["labels"]?["alertname"]) == name && Text(a["state"]) == "firing");
                return firing is not null;
            },
            wait ? TimeSpan.FromSeconds(90) : TimeSpan.Zero);
        return firing;
    }

    [GeneratedRegex("^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\\{(?<labels>.*)\\})?$")]
    private static partial Regex SeriesSelector();

    [GeneratedRegex("([a-zA-Z_][a-zA-Z0-9_]*)=\"((?:[^\"\\\\]|\\\\.)*)\"")]
    private static partial Regex LabelPair();

    [GeneratedRegex("(?m)^(?<indent>[ \\t]+)for: \\S+$")]
    private static partial Regex ForDuration();
}
