using System.Text.RegularExpressions;
using Grpc.Core;
using TaskBudgets.Governance.Tests.Infrastructure;
using TaskBudgets.V1;
using static TaskBudgets.Governance.Tests.Deployment.Manifests.RenderedChart;

namespace TaskBudgets.Governance.Tests.Deployment;

/// <summary>An alert on a metric the server does not export never fires: every metric an alert queries is checked against a real scrape.</summary>
public sealed partial class AlertMetricsTests
{
    /// <summary>Series Prometheus makes itself for every target, which no server exports.</summary>
    private static readonly string[] ScrapeSeries = ["up"];

    [Fact]
    public async Task Every_metric_an_alert_queries_is_exported_by_a_running_server()
    {
        using var directory = new TempDirectory();
        await using var server = await ServerProcess.StartAsync(directory.Path, directory.WithTestPolicy());
        await CauseEveryAlertableEventAsync(server.Budgets);

        var queried = PrometheusFilesTests.Alerts()
            .SelectMany(a => Selector().Matches(Text(a["expr"]) ?? "").Select(m => m.Groups[1].Value))
            .Where(name => !ScrapeSeries.Contains(name))
            .ToHashSet();
        Assert.NotEmpty(queried);

        HashSet<string> exported = [];
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        for (var attempt = 0; attempt < 20 && !queried.IsSubsetOf(exported); attempt++)
        {
            // Reports are committed in the background; their metrics follow the commit.
            await Task.Delay(attempt == 0 ? 0 : 500);
            var scrape = await http.GetStringAsync(new Uri(server.HttpAddress, "/metrics"));
            exported = [.. scrape.Split('\n').Where(l => l.Length > 0 && l[0] != '#').Select(l => SampleName().Match(l).Value)];
        }

        Assert.Empty(queried.Except(exported).Order());
    }

    /// <summary>A grant, a truncated call's report (one group commit), and a denial.</summary>
    internal static async Task CauseEveryAlertableEventAsync(BudgetService.BudgetServiceClient budgets)
    {
        var grant = await budgets.GetBudgetAsync(new GetBudgetRequest { OrgId = "acme", TaskType = "t", Model = "claude-test" });
        await budgets.ReportUsageAsync(new ReportUsageRequest { GrantId = grant.GrantId, Usage = new UsageTokens { OutputTokens = 10 }, StopReason = StopReason.MaxTokens });

        // "capped" allows 5 requests a minute.
        var denied = false;
        for (var i = 0; i < 6 && !denied; i++)
        {
            try
            {
                await budgets.GetBudgetAsync(new GetBudgetRequest { OrgId = "capped", TaskType = "t", Model = "claude-test" });
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.ResourceExhausted)
            {
                denied = true;
            }
        }

        Assert.True(denied, "org capped was never denied");
    }

    [GeneratedRegex("([a-zA-Z_:][a-zA-Z0-9_:]*)\\s*\\{")]
    private static partial Regex Selector();

    [GeneratedRegex("^[a-zA-Z_:][a-zA-Z0-9_:]*")]
    private static partial Regex SampleName();
}
