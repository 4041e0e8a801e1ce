using System.Globalization;
using System.Text.RegularExpressions;
using TaskBudgets.Governance.Tests.Infrastructure;
using TaskBudgets.V1;

namespace TaskBudgets.Governance.Tests.Api;

/// <summary>
/// /metrics of a started server after real calls: the values, not only the names. A process of
/// its own, because meters are matched by name across a process and in-process hosts share one.
/// </summary>
public sealed partial class MetricsTests : IAsyncLifetime
{
    private readonly TempDirectory directory = new();
    private ServerProcess? server;

    private ServerProcess Server => server ?? throw new InvalidOperationException("not started");

    public async ValueTask InitializeAsync()
    {
        var settings = directory.WithTestPolicy();
        settings["Telemetry:OrgLabels:0"] = "small";

        // Calibration gauges appear once the first reports are merged.
        settings["Calibration:SyncInterval"] = "00:00:00.200";
        server = await ServerProcess.StartAsync(directory.Path, settings);
    }

    public async ValueTask DisposeAsync()
    {
        if (server is not null)
        {
            await server.DisposeAsync();
        }

        directory.Dispose();
    }

    private async Task<string> ScrapeAsync()
    {
        using var http = new HttpClient();
        return await http.GetStringAsync(new Uri(Server.HttpAddress, "/metrics"));
    }

    /// <summary>The value of the one series of <paramref name="name"/> whose labels include all of <paramref name="labels"/>.</summary>
    private static double Value(string scrape, string name, params string[] labels)
    {
        var matches = scrape.Split('\n')
            .Where(l => l.StartsWith(name + "{", StringComparison.Ordinal) || l.StartsWith(name + " ", StringComparison.Ordinal))
            .Where(l => labels.All(label => l.Contains(label, StringComparison.Ordinal)))
            .ToList();
        Assert.True(matches.Count == 1, $"expected one series {name} with {string.Join(",", labels)}, found {matches.Count}:\n{string.Join('\n', scrape.Split('\n').Where(l => l.StartsWith(name, StringComparison.Ordinal)))}");
        var line = matches[0];
        var value = line[(line.LastIndexOf('}') + 1)..].Trim().Split(' ')[0];
        return double.Parse(value, CultureInfo.InvariantCulture);
    }

    private static double Delta(string before, string after, string name, params string[] labels) =>
        Value(after, name, labels) - (Has(before, name, labels) ? Value(before, name, labels) : 0);

    private static bool Has(string scrape, string name, string[] labels) =>
        scrape.Split('\n').Any(l => (l.StartsWith(name + "{", StringComparison.Ordinal) || l.StartsWith(name + " ", StringComparison.Ordinal)) && labels.All(label => l.Contains(label, StringComparison.Ordinal)));

    [Fact]
    public async Task Grants_denials_usage_truncations_and_quota_utilisation_are_exported_with_their_values()
    {
        var budgets = Server.Budgets;
        var before = await ScrapeAsync();
        var grants = new List<GetBudgetResponse>();
        for (var i = 0; i < 3; i++)
        {
            grants.Add(await budgets.GetBudgetAsync(new GetBudgetRequest { OrgId = "small", TaskType = "free-form-7", Model = "claude-test", Features = new TaskFeatures { Phase = Phase.Deep } }));
        }

        await Assert.ThrowsAsync<Grpc.Core.RpcException>(() => budgets.GetBudgetAsync(new GetBudgetRequest { OrgId = "small", TaskType = "x", Model = "gpt-test", Features = new TaskFeatures { Phase = Phase.Deep } }).ResponseAsync);
        await budgets.ReportUsageAsync(new ReportUsageRequest
        {
            GrantId = grants[0].GrantId,
            Usage = new UsageTokens { InputTokens = 100, OutputTokens = 9216, ReasoningTokens = 8192 },
            StopReason = StopReason.MaxTokens,
        });
        await budgets.ReportUsageAsync(new ReportUsageRequest
        {
            GrantId = grants[1].GrantId,
            Usage = new UsageTokens { InputTokens = 100, OutputTokens = 20000, ReasoningTokens = 100 },
            StopReason = StopReason.EndTurn,
        });

        var scrape = await ScrapeAsync();

        // Free-form task types are labelled by the rule that governs them: "*".
        Assert.Equal(2, Delta(before, scrape, "taskbudgets_grants_total", "decision=\"granted\"", "task_type=\"*\"", "tier=\"standard\"", "model_family=\"anthropic\""));
        Assert.Equal(1, Delta(before, scrape, "taskbudgets_grants_total", "decision=\"reduced\""));
        Assert.Equal(1, Delta(before, scrape, "taskbudgets_grants_total", "decision=\"denied\"", "model_family=\"openai\""));
        Assert.Equal(1, Delta(before, scrape, "taskbudgets_denials_total", "metric=\"reasoning_tokens\""));
        Assert.Equal(8192 + 8192 + 3616, Delta(before, scrape, "taskbudgets_granted_tokens_total", "kind=\"reasoning\""));
        Assert.Equal(8192 + 100, Delta(before, scrape, "taskbudgets_used_tokens_total", "kind=\"reasoning\""));
        Assert.Equal(1, Delta(before, scrape, "taskbudgets_truncations_total", "task_type=\"*\""));
        Assert.Equal(1, Delta(before, scrape, "taskbudgets_over_grant_calls_total"));
        Assert.Equal(2, Delta(before, scrape, "taskbudgets_usage_ratio_count"));
        Assert.Equal(1, Delta(before, scrape, "taskbudgets_active_reservations"));
        Assert.Equal(2, Delta(before, scrape, "taskbudgets_report_batch_size_count"));
        Assert.Equal(0, Delta(before, scrape, "taskbudgets_report_flush_failures_total"));
        Assert.Equal(1, Delta(before, scrape, "taskbudgets_rpc_duration_seconds_count", "rpc_grpc_status_code=\"ResourceExhausted\"", "GetBudget"));
        Assert.Equal(3, Delta(before, scrape, "taskbudgets_rpc_duration_seconds_count", "rpc_grpc_status_code=\"OK\"", "GetBudget"));
        Assert.True(Value(scrape, "taskbudgets_report_flush_duration_seconds_count") >= 1);

        // The first grants opened the org's windows: each took its first lease on the way, and
        // reading a window this replica never leased from is not a refused renewal.
        Assert.True(Delta(before, scrape, "taskbudgets_lease_operations_total", "operation=\"grow\"", "outcome=\"ok\"", "path=\"grant\"") >= 1);
        Assert.False(Has(scrape, "taskbudgets_lease_operations_total", ["operation=\"renew\"", "outcome=\"refused\""]), "a new window's first read counted as a refused renewal");
        var utilisation = Value(scrape, "taskbudgets_quota_utilization_ratio", "metric=\"reasoning_tokens\"", "org=\"small\"", "window=\"day\"");
        Assert.InRange(utilisation, 0.5, 1.0);
        Assert.DoesNotContain("http_server_request_duration_seconds", scrape, StringComparison.Ordinal); // one set of RPC metrics
        Assert.Contains("kestrel_active_connections", scrape, StringComparison.Ordinal);
        Assert.Contains("dotnet_gc_collections_total", scrape, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Calibration_gauges_show_truncation_used_over_granted_and_current_vs_recommended_budgets_per_task_type()
    {
        var budgets = Server.Budgets;
        for (var i = 0; i < 4; i++)
        {
            var grant = await budgets.GetBudgetAsync(new GetBudgetRequest { OrgId = "acme", TaskType = "classification", Model = "gpt-test" });
            await budgets.ReportUsageAsync(new ReportUsageRequest
            {
                GrantId = grant.GrantId,
                Usage = new UsageTokens { OutputTokens = 600, ReasoningTokens = i == 0 ? grant.Budget.ReasoningTokens : 128 },
                StopReason = i == 0 ? StopReason.MaxTokens : StopReason.EndTurn,
            });
        }

        // The gauges show what the last calibration sync published, which can fall between two of
        // the reports: wait for all four.
        string scrape;
        var deadline = DateTime.UtcNow.AddSeconds(15);
        do
        {
            await Task.Delay(200);
            scrape = await ScrapeAsync();
        }
        while (!(Has(scrape, "taskbudgets_calibration_samples", ["task_type=\"classification\""])
                 && Value(scrape, "taskbudgets_calibration_samples", "task_type=\"classification\"") >= 3.99)
               && DateTime.UtcNow < deadline);

        // Counts decay on the real clock: a little under the exact figures.
        Assert.InRange(Value(scrape, "taskbudgets_calibration_truncation_ratio", "task_type=\"classification\"", "tier=\"standard\""), 0.249, 0.251);
        Assert.InRange(Value(scrape, "taskbudgets_calibration_used_granted_ratio", "task_type=\"classification\""), 0.4365, 0.4385); // (512 + 3 x 128) / (4 x 512)
        Assert.InRange(Value(scrape, "taskbudgets_calibration_samples", "task_type=\"classification\""), 3.99, 4.0);
        Assert.Equal(512, Value(scrape, "taskbudgets_calibration_budget_tokens", "task_type=\"classification\"", "budget=\"current\""));
        Assert.InRange(Value(scrape, "taskbudgets_calibration_budget_tokens", "task_type=\"classification\"", "budget=\"recommended\""), 0, 1024);

        // Three of four calls completed at 128, one ran out at 512: the median is placed, the 99th
        // percentile only known to lie beyond 512.
        Assert.InRange(Value(scrape, "taskbudgets_calibration_used_tokens", "task_type=\"classification\"", "quantile=\"0.5\"", "censored=\"false\""), 128, 131);
        Assert.InRange(Value(scrape, "taskbudgets_calibration_used_tokens", "task_type=\"classification\"", "quantile=\"0.99\"", "censored=\"true\""), 512, 523);
    }

    [Fact]
    public async Task Every_metric_the_dashboard_and_alerts_query_is_one_the_service_exports()
    {
        // Put every instrument on the page at least once.
        var budgets = Server.Budgets;
        var grant = await budgets.GetBudgetAsync(new GetBudgetRequest { OrgId = "acme", TaskType = "t", Model = "claude-test" });
        await budgets.ReportUsageAsync(new ReportUsageRequest { GrantId = grant.GrantId, Usage = new UsageTokens { OutputTokens = 10 }, StopReason = StopReason.MaxTokens });
        var released = await budgets.GetBudgetAsync(new GetBudgetRequest { OrgId = "acme", TaskType = "t", Model = "claude-test" });
        await budgets.ReleaseBudgetAsync(new ReleaseBudgetRequest { GrantId = released.GrantId });
        await budgets.ReportUsageAsync(new ReportUsageRequest { GrantId = released.GrantId, Usage = new UsageTokens { OutputTokens = 99_999 }, StopReason = StopReason.EndTurn });
        // "capped" allows 5 requests a minute of the real clock: should a minute end in between,
        // the next one allows 5 more, so a denial comes within 11 asks (the CI failure was the 6th granted).
        Grpc.Core.RpcException? denial = null;
        for (var i = 0; i < 11 && denial is null; i++)
        {
            try
            {
                await budgets.GetBudgetAsync(new GetBudgetRequest { OrgId = "capped", TaskType = "t", Model = "claude-test" });
            }
            catch (Grpc.Core.RpcException e)
            {
                denial = e;
            }
        }

        Assert.Equal(Grpc.Core.StatusCode.ResourceExhausted, denial?.StatusCode);
        var scrape = await ScrapeAsync();
        for (var wait = 0; wait < 50 && !scrape.Contains("taskbudgets_calibration_budget_tokens", StringComparison.Ordinal); wait++)
        {
            await Task.Delay(200);
            scrape = await ScrapeAsync();
        }

        var exported = scrape.Split('\n').Where(l => l.Length > 0 && l[0] != '#').Select(l => MetricName().Match(l).Value).ToHashSet(StringComparer.Ordinal);

        var root = Repository.Root;
        var queried = new HashSet<string>(StringComparer.Ordinal);
        foreach (var file in Directory.GetFiles(Path.Combine(root, "deploy", "grafana"), "*.json", SearchOption.AllDirectories)
            .Append(Path.Combine(root, "deploy", "prometheus", "alerts.yml")))
        {
            foreach (Match m in QueriedName().Matches(File.ReadAllText(file)))
            {
                queried.Add(m.Value);
            }
        }

        Assert.NotEmpty(queried);
        var missing = queried.Where(q => !exported.Contains(q)
            && !exported.Contains(q + "_total")
            && !(q.EndsWith("_bucket", StringComparison.Ordinal) && exported.Contains(q))).ToList();
        Assert.True(missing.Count == 0, "queried but not exported: " + string.Join(", ", missing));
    }

    [GeneratedRegex("^[a-zA-Z_:][a-zA-Z0-9_:]*")]
    private static partial Regex MetricName();

    // Our own series: taskbudgets_* (flush failures and failures-to-flush included).
    [GeneratedRegex(@"\btaskbudgets_[a-z0-9_]+\b")]
    private static partial Regex QueriedName();
}
