using System.Text.Json;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Grpc.Net.Client;
using TaskBudgets.Cli;
using TaskBudgets.Governance.Tests.Infrastructure;
using TaskBudgets.V1;

namespace TaskBudgets.Governance.Tests.Cli;

/// <summary>`taskbudgets simulate --policy FILE --since 7d` (in process) against a real server process with settled calls.</summary>
public sealed class SimulatePolicyCliTests(CliServer server) : IClassFixture<CliServer>, IDisposable
{
    private readonly string directory = Directory.CreateTempSubdirectory("tb-cli-replay-").FullName;

    public void Dispose() => Directory.Delete(directory, recursive: true);

    private async Task<(int Exit, string Out, string Error)> CliAsync(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var exit = await CliApp.RunAsync(["--address", server.Address, "--key", CliServer.AdminKey, .. args], stdout, stderr, _ => null, CancellationToken.None);
        return (exit, stdout.ToString(), stderr.ToString());
    }

    /// <summary>The sample policy the server started with, with the standard tier's default rule at <paramref name="budget"/> reasoning tokens.</summary>
    private string Candidate(string budget)
    {
        var sample = File.ReadAllText(Path.Combine(Repository.Root, "src", "TaskBudgets.Governance", "policies", "policies.yaml"));
        const string standard = "min_reasoning_tokens: 1024\n        default_reasoning_tokens: 4096";
        Assert.Contains(standard, sample, StringComparison.Ordinal);
        var path = Path.Combine(directory, "candidate.yaml");
        File.WriteAllText(path, sample.Replace(standard, "min_reasoning_tokens: 1024\n        default_reasoning_tokens: " + budget, StringComparison.Ordinal));
        return path;
    }

    [Fact]
    public async Task Simulate_policy_prints_actual_and_projected_per_tier_and_task_type_and_json()
    {
        using var channel = GrpcChannel.ForAddress(server.Address);
        var budgets = new BudgetService.BudgetServiceClient(channel.Intercept(h =>
        {
            h.Add("authorization", "Bearer " + CliServer.AdminKey);
            return h;
        }));
        foreach (var (reasoning, stop) in new[] { (1000L, StopReason.EndTurn), (4096L, StopReason.MaxTokens) })
        {
            var grant = await budgets.GetBudgetAsync(new GetBudgetRequest { OrgId = "demo", TaskType = "cli-replay", Model = "claude-sonnet-4-5" });
            await budgets.ReportUsageAsync(new ReportUsageRequest { GrantId = grant.GrantId, Usage = new UsageTokens { InputTokens = 10, OutputTokens = reasoning + 100, ReasoningTokens = reasoning }, StopReason = stop });
        }

        var file = Candidate("2048");
        var table = await CliAsync("simulate", "demo", "--policy", file, "--since", "7d");
        var json = await CliAsync("simulate", "demo", "--policy", file, "--since", "1h", "-o", "json");
        var badFile = Path.Combine(directory, "bad.yaml");
        File.WriteAllText(badFile, File.ReadAllText(file).Replace("default_reasoning_tokens: 2048", "default_reasoning_tokens: 999999", StringComparison.Ordinal));
        var bad = await CliAsync("simulate", "--policy", badFile);
        var badSince = await CliAsync("simulate", "--policy", file, "--since", "soon");
        var neither = await CliAsync("simulate");
        var sinceAlone = await CliAsync("simulate", "demo", "--task-type", "support", "--model", "claude-sonnet-4-5", "--since", "7d");

        Assert.True(table.Exit == 0, table.Error);
        Assert.Matches(@"standard\s+cli-replay\s+\*\s+2\s+actual\s+4,096\s+8,192\s+5,096\s+62\.2%\s+1\s+50\.0%\s+-\s+0", table.Out);
        Assert.Matches(@"projected\s+2,048\s+4,096\s+3,048\s+74\.4%\s+1\s+50\.0%\s+0\s+0", table.Out);
        Assert.Contains("total", table.Out, StringComparison.Ordinal);
        Assert.Contains("note: ", table.Out, StringComparison.Ordinal);

        Assert.True(json.Exit == 0, json.Error);
        var group = JsonDocument.Parse(json.Out).RootElement.GetProperty("groups").EnumerateArray().Single(g => g.GetProperty("task_type").GetString() == "cli-replay");
        Assert.Equal("2", group.GetProperty("calls").GetString()); // proto JSON writes int64 as a string
        Assert.Equal("4096", group.GetProperty("projected").GetProperty("reserved_reasoning_tokens").GetString());

        Assert.Equal(1, bad.Exit);
        Assert.Contains("policy_yaml.tiers[1].rules[0].default_reasoning_tokens", bad.Error, StringComparison.Ordinal);
        Assert.Equal(1, badSince.Exit);
        Assert.Contains("--since", badSince.Error, StringComparison.Ordinal);
        Assert.Equal(1, neither.Exit);
        Assert.Contains("--task-type", neither.Error, StringComparison.Ordinal);
        Assert.Equal(1, sinceAlone.Exit);
        Assert.Contains("--since needs --policy", sinceAlone.Error, StringComparison.Ordinal);
    }
}
