using TaskBudgets.Governance.Tests.Infrastructure;
using TaskBudgets.V1;

namespace TaskBudgets.Governance.Tests.Processes;

/// <summary>A real Prometheus scrapes a started server and answers a query about real calls.</summary>
public sealed class PrometheusScrapeTests
{
    [Fact]
    public async Task Prometheus_scrapes_the_server_and_answers_a_query()
    {
        using var directory = new TempDirectory();
        await using var server = await ServerProcess.StartAsync(directory.Path, directory.WithTestPolicy());
        for (var i = 0; i < 3; i++)
        {
            await server.Budgets.GetBudgetAsync(new GetBudgetRequest { OrgId = "acme", TaskType = "t", Model = "gpt-test" });
        }

        await using var prometheus = PrometheusProcess.Start(directory.Path, "taskbudgets", [$"127.0.0.1:{server.HttpPort}"]);
        double? answer = null;
        await PrometheusProcess.WaitUntilAsync(
            async () =>
            {
                var result = await prometheus.QueryAsync("sum(taskbudgets_grants_total{job=\"taskbudgets\",decision=\"granted\",model_family=\"openai\"})");
                answer = result is [var only] ? only.Value : null;
                return answer == 3;
            },
            TimeSpan.FromSeconds(60));

        Assert.True(answer == 3, $"answer {answer}, want 3\n{prometheus.Output}");
    }
}
