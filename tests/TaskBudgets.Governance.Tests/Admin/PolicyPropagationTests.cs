using TaskBudgets.Governance.Tests.Infrastructure;
using TaskBudgets.V1;

namespace TaskBudgets.Governance.Tests.Admin;

/// <summary>Two replicas on one PostgreSQL: a change made on one is in force on the other within Policy:RefreshInterval.</summary>
public sealed class PolicyPropagationTests(PostgresServer postgres)
{
    [Fact]
    public async Task A_change_on_one_replica_is_in_force_on_another_after_one_refresh_interval()
    {
        var database = await postgres.CreateDatabaseAsync();
        await using var first = GovernanceApp.Create(database);
        await using var second = GovernanceApp.Create(database, extra: new Dictionary<string, string> { ["Policy:ApplyOnStart"] = "Never" });
        var ask = new GetBudgetRequest { OrgId = "acme", TaskType = "support", Model = "claude-test" };
        var before = await second.Budgets.GetBudgetAsync(ask);

        await first.Admin.UpsertTierAsync(new UpsertTierRequest { Tier = AdminFixtures.Tier("lean", min: 0, max: 256) });
        var moved = await first.Admin.UpdateOrgAsync(new UpdateOrgRequest
        {
            Org = new Org { OrgId = "acme", Tier = "lean" },
            UpdateMask = new Google.Protobuf.WellKnownTypes.FieldMask { Paths = { "tier" } },
        });
        var stillOld = await second.Budgets.GetBudgetAsync(ask);

        // Policy:RefreshInterval (5 s by default) passes on the second replica's clock.
        second.Time.Advance(TimeSpan.FromSeconds(5));
        var after = stillOld;
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (after.Tier != "lean" && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
            after = await second.Budgets.GetBudgetAsync(ask);
        }

        Assert.Equal("standard", before.Tier);
        Assert.Equal(before.PolicyVersion, stillOld.PolicyVersion);
        Assert.Equal("lean", after.Tier);
        Assert.Equal(before.PolicyVersion + 2, after.PolicyVersion);
        Assert.Equal("lean", moved.Org.Tier);
    }
}
