using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using TaskBudgets.Governance.Budgeting.Calibration;
using TaskBudgets.Governance.Quotas;
using TaskBudgets.Governance.Tests.Infrastructure;
using TaskBudgets.V1;

namespace TaskBudgets.Governance.Tests.Calibration;

/// <summary>
/// Two replicas on one PostgreSQL database: each writes only its own calibration rows, merges the
/// other's, and both grant from everything either has seen.
/// </summary>
public sealed class CalibrationReplicaTests(PostgresServer postgres)
{
    [Fact]
    public async Task Replicas_merge_each_others_calibration_through_the_database_without_counting_anything_twice()
    {
        var database = await postgres.CreateDatabaseAsync();
        await using var first = GovernanceApp.Create(database, AdaptiveBudgetTests.Policy);
        await using var second = GovernanceApp.Create(database, AdaptiveBudgetTests.Policy);

        await AdaptiveCalls.CallsAsync(first, "light", 30, i => 260 + (i % 20));
        await AdaptiveCalls.CallsAsync(second, "light", 25, i => 260 + (i % 20), org: "other");
        for (var round = 0; round < 2; round++)
        {
            // Twice: syncing again must not add the other's calls again.
            await AdaptiveCalls.SyncAsync(first);
            await AdaptiveCalls.SyncAsync(second);
        }

        var fromFirst = await AdaptiveCalls.AskAsync(first, "light", "other");
        var fromSecond = await AdaptiveCalls.AskAsync(second, "light");
        var rows = (await second.Admin.GetCalibrationAsync(new GetCalibrationRequest { TaskType = "light" })).Calibrations;
        await using var db = first.Db();
        var stored = await db.Calibrations.AsNoTracking().Select(r => new { r.ReplicaId, r.OrgId }).ToListAsync();

        // 55 calls in all pass min_samples (40) though neither replica saw 40 alone.
        Assert.Equal(55, Assert.Single(rows).Samples, 6);
        Assert.Contains(fromFirst.Reasons, r => r.Code == ReasonCode.Adaptive && r.Text.Contains("55 samples", StringComparison.Ordinal));
        Assert.Contains(fromSecond.Reasons, r => r.Code == ReasonCode.Adaptive && r.Text.Contains("55 samples", StringComparison.Ordinal));
        Assert.InRange(fromSecond.Budget.ReasoningTokens, 256, 320);
        Assert.Equal(2, stored.Select(r => r.ReplicaId).Distinct().Count());
        Assert.Equal(4, stored.Count); // per replica: tier-wide and its org's own
    }

    [Fact]
    public async Task A_change_one_replica_detects_is_adopted_by_the_other_which_drops_its_own_calls_from_before_it()
    {
        var database = await postgres.CreateDatabaseAsync();
        await using var first = GovernanceApp.Create(database, AdaptiveBudgetTests.Policy);
        await using var second = GovernanceApp.Create(database, AdaptiveBudgetTests.Policy);
        await AdaptiveCalls.CallsAsync(first, "light", 600, i => 250 + (i * 37 % 100));
        await AdaptiveCalls.CallsAsync(second, "light", 600, i => 250 + (i * 53 % 100));
        for (var round = 0; round < 2; round++)
        {
            await AdaptiveCalls.SyncAsync(first);
            await AdaptiveCalls.SyncAsync(second);
        }

        // 1,200 calls between them: both test the type now. Only the first sees its need triple.
        await AdaptiveCalls.CallsAsync(first, "light", 25, i => 3 * (250 + (i * 37 % 100)));

        // A replica re-reads another's row when its write time moves.
        first.Time.Advance(TimeSpan.FromSeconds(1));
        second.Time.Advance(TimeSpan.FromSeconds(1));
        await AdaptiveCalls.SyncAsync(first);
        await AdaptiveCalls.SyncAsync(second);
        await AdaptiveCalls.SyncAsync(second);

        var seenBySecond = (await second.Admin.GetCalibrationAsync(new GetCalibrationRequest { Tier = "adaptive", TaskType = "light" })).Calibrations.Single();
        var grantBySecond = await AdaptiveCalls.AskAsync(second, "light");
        var secondId = second.Services.GetRequiredService<ReplicaIdentity>().Id;
        await using var db = first.Db();
        var secondsRow = await db.Calibrations.AsNoTracking().SingleAsync(r => r.ReplicaId == secondId && r.TaskType == "light" && r.OrgId == "");
        var secondsOwn = CalibrationStats.Deserialize(secondsRow.Stats);

        Assert.Equal(1, seenBySecond.ChangesDetected);
        Assert.True(seenBySecond.Recalibrating);
        Assert.InRange(seenBySecond.CallsSinceChange, 1, 24);
        Assert.Equal(seenBySecond.CallsSinceChange, seenBySecond.Samples, 0.01); // the 1,200 calls from before are gone (decayed over a second)
        Assert.Contains(grantBySecond.Reasons, r => r.Code == ReasonCode.Recalibrating);
        Assert.Equal(1, secondsOwn.ChangeEpoch);
        Assert.Equal(0, secondsOwn.Calls);
        Assert.Equal(600, secondsOwn.Traffic, 6);
    }
}
