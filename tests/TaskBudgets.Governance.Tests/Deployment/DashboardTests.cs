using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using TaskBudgets.Governance.Tests.Infrastructure;
using TaskBudgets.V1;
using static TaskBudgets.Governance.Tests.Deployment.Manifests.RenderedChart;

namespace TaskBudgets.Governance.Tests.Deployment;

/// <summary>
/// deploy/grafana/dashboards/taskbudgets.json: its queries read only what the server exports (that
/// each answers with a value, 0 where nothing happened yet, is shown against a real Prometheus in
/// <see cref="AlertRulesTests"/>), and the chart ships the same file.
/// </summary>
public sealed partial class DashboardTests
{
    public static readonly string File = Path.Combine(Repository.Root, "deploy", "grafana", "dashboards", "taskbudgets.json");

    /// <summary>Series Prometheus makes itself for every target, which no server exports.</summary>
    private static readonly string[] ScrapeSeries = ["up"];

    [Fact]
    public async Task Every_metric_a_panel_queries_is_exported_by_a_running_server()
    {
        using var directory = new TempDirectory();
        var settings = directory.WithTestPolicy();
        settings["Telemetry:OrgLabels:0"] = "acme";
        settings["Calibration:SyncInterval"] = "00:00:01";
        await using var server = await ServerProcess.StartAsync(directory.Path, settings);
        await LightLoad.RunAsync(server, "acme", calls: 4);
        await AlertMetricsTests.CauseEveryAlertableEventAsync(server.Budgets);
        await CauseOverGrantAndLateReportAsync(server.Budgets);

        var queried = Queries().SelectMany(q => MetricName().Matches(q.Expr).Select(m => m.Groups[1].Value))
            .Where(name => !ScrapeSeries.Contains(name) && name is not ("vector" or "on" or "by"))
            .ToHashSet();
        Assert.NotEmpty(queried);

        HashSet<string> exported = [];
        for (var attempt = 0; attempt < 30 && !queried.IsSubsetOf(exported); attempt++)
        {
            // Reports are committed, and calibrations synced, in the background.
            await Task.Delay(attempt == 0 ? 0 : 500);
            exported = [.. (await MetricsScrape.ReadAsync(server.HttpAddress)).SampleNames];
        }

        Assert.Empty(queried.Except(exported).Order());
    }

    /// <summary>A call that used more than its grant, and a report for a grant released before it came.</summary>
    private static async Task CauseOverGrantAndLateReportAsync(BudgetService.BudgetServiceClient budgets)
    {
        var ask = new GetBudgetRequest { OrgId = "acme", TaskType = "t", Model = "claude-test" };
        var over = await budgets.GetBudgetAsync(ask);
        await budgets.ReportUsageAsync(new ReportUsageRequest { GrantId = over.GrantId, Usage = new UsageTokens { OutputTokens = over.Budget.MaxOutputTokens + 100 }, StopReason = StopReason.EndTurn });
        var released = await budgets.GetBudgetAsync(ask);
        await budgets.ReleaseBudgetAsync(new ReleaseBudgetRequest { GrantId = released.GrantId });
        await budgets.ReportUsageAsync(new ReportUsageRequest { GrantId = released.GrantId, Usage = new UsageTokens { OutputTokens = 10 }, StopReason = StopReason.EndTurn });
    }

    [Fact]
    public void Panels_that_count_events_show_0_before_the_first_one()
    {
        // Counters for events that may not have happened yet have no series until then.
        string[] sometimesAbsent = ["taskbudgets_denials_total", "taskbudgets_truncations_total", "taskbudgets_over_grant_calls_total", "taskbudgets_late_reports_total", "taskbudgets_expired_grants_total"];
        var missing = Queries()
            .Where(q => sometimesAbsent.Any(m => q.Expr.Contains(m, StringComparison.Ordinal)) && !q.Expr.Contains("vector(0)", StringComparison.Ordinal))
            .Select(q => $"{q.Panel}: {q.Expr}");
        Assert.Empty(missing);
    }

    [Fact]
    public void Request_panels_count_gRPC_and_HTTP_JSON_callers_alike()
    {
        // http_route names a gRPC method only for gRPC callers; the RPC histogram counts both.
        var byRoute = Queries().Where(q => q.Expr.Contains("http_route=", StringComparison.Ordinal)).Select(q => $"{q.Panel}: {q.Expr}");
        Assert.Empty(byRoute);
        Assert.Contains(Queries(), q => q.Expr.Contains("taskbudgets_rpc_duration_seconds_count", StringComparison.Ordinal));
    }

    [Fact]
    public void The_chart_ships_the_same_dashboard() =>
        Assert.Equal(System.IO.File.ReadAllText(File), System.IO.File.ReadAllText(Path.Combine(Repository.Root, "helm", "taskbudgets", "files", "dashboard.json")));

    /// <summary>Every panel query, with its panel's title.</summary>
    public static IEnumerable<(string Panel, string Expr)> Queries()
    {
        var dashboard = JsonNode.Parse(System.IO.File.ReadAllText(File))!;
        return Panels(dashboard["panels"]).SelectMany(p => Objects(p["targets"]).Select(t => (Text(p["title"])!, Text(t["expr"]) ?? ""))).Where(q => q.Item2.Length > 0);
    }

    /// <summary>A query as Grafana sends it with the dashboard's defaults: job taskbudgets, every tier and task type.</summary>
    public static string WithVariables(string expr) =>
        expr.Replace("$job", "taskbudgets", StringComparison.Ordinal)
            .Replace("$tier", ".*", StringComparison.Ordinal)
            .Replace("$task_type", ".*", StringComparison.Ordinal)
            .Replace("$__rate_interval", "1m", StringComparison.Ordinal);

    private static IEnumerable<JsonObject> Panels(JsonNode? panels) =>
        Objects(panels).SelectMany(p => new[] { p }.Concat(Panels(p["panels"])));

    [GeneratedRegex("([a-zA-Z_:][a-zA-Z0-9_:]*)\\s*\\{")]
    private static partial Regex MetricName();
}
