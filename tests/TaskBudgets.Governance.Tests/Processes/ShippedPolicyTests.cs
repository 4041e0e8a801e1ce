using TaskBudgets.Governance.Tests.Deployment.Manifests;
using TaskBudgets.Governance.Tests.Infrastructure;
using TaskBudgets.V1;
using static TaskBudgets.Governance.Tests.Deployment.Manifests.RenderedChart;

namespace TaskBudgets.Governance.Tests.Processes;

/// <summary>
/// Every policy file the repository ships starts a real server and serves each of its orgs: a
/// policy that parses but that the server refuses at start (a thinking mode it does not know, say)
/// fails here. The chart's policies start in <see cref="Deployment.HelmInstallTests"/>.
/// </summary>
public sealed class ShippedPolicyTests
{
    public static TheoryData<string> Files { get; } =
    [
        "src/TaskBudgets.Governance/policies/policies.yaml", // The image's default, and the examples' server.
        "deploy/policies/policies.yaml", // The compose stack's.
    ];

    [Theory]
    [MemberData(nameof(Files))]
    public async Task Shipped_policy_starts_the_server_and_grants_a_budget_to_each_of_its_orgs(string file)
    {
        var path = Path.Combine(Repository.Root, file);
        using var directory = new TempDirectory();
        await using var server = await ServerProcess.StartAsync(directory.Path, new Dictionary<string, string> { ["Policy:File"] = path, ["Policy:ApplyOnStart"] = "Always" });

        var policy = Yaml.Load(path)!;
        var model = Text(policy["models"]![0]!["name"])!;
        var orgs = Objects(policy["orgs"]).Select(o => Text(o["id"])!).ToList();
        Assert.NotEmpty(orgs);
        foreach (var org in orgs)
        {
            var grant = await server.Budgets.GetBudgetAsync(new GetBudgetRequest { OrgId = org, TaskType = "support", Model = model });
            Assert.True(grant.Decision is Decision.Granted or Decision.Reduced, $"{file}: org {org} got {grant.Decision}");
        }
    }
}
