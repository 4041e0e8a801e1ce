using System.Net.Http.Json;
using System.Text.Json;
using TaskBudgets.V1;

namespace TaskBudgets.Governance.Tests.Infrastructure;

/// <summary>
/// What a healthy installation sees: callers over gRPC and over HTTP/JSON ask for a budget, use
/// part of it and report what they used (untruncated), so grants, reports, flushes and request
/// durations all have series.
/// </summary>
public static class LightLoad
{
    public static async Task RunAsync(ServerProcess server, string org, int calls, string model = "claude-test")
    {
        ArgumentNullException.ThrowIfNull(server);
        using var http = new HttpClient { BaseAddress = server.HttpAddress, Timeout = TimeSpan.FromSeconds(30) };
        http.DefaultRequestHeaders.Authorization = new("Bearer", GovernanceApp.AdminKey);
        for (var i = 0; i < calls; i++)
        {
            if (i % 2 == 0)
            {
                var grant = await server.Budgets.GetBudgetAsync(new GetBudgetRequest { OrgId = org, TaskType = "t", Model = model });
                await server.Budgets.ReportUsageAsync(new ReportUsageRequest { GrantId = grant.GrantId, Usage = new UsageTokens { InputTokens = 200, OutputTokens = 300, ReasoningTokens = 200 }, StopReason = StopReason.EndTurn });
            }
            else
            {
                using var asked = await http.PostAsJsonAsync($"/v1/orgs/{org}/budget:get", new { taskType = "t", model });
                asked.EnsureSuccessStatusCode();
                using var grant = JsonDocument.Parse(await asked.Content.ReadAsStringAsync());
                var grantId = grant.RootElement.GetProperty("grantId").GetString();
                using var reported = await http.PostAsJsonAsync("/v1/usage:report", new { grantId, usage = new { inputTokens = 200, outputTokens = 300, reasoningTokens = 200 }, stopReason = "STOP_REASON_END_TURN" });
                reported.EnsureSuccessStatusCode();
            }
        }
    }
}
