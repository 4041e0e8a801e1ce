using Grpc.Core;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using TaskBudgets.Governance.Adaptive;
using TaskBudgets.Governance.Quotas;
using TaskBudgets.Governance.Storage;
using TaskBudgets.Governance.Tests.Infrastructure;
using TaskBudgets.V1;

namespace TaskBudgets.Governance.Tests.Calibration;

/// <summary>Drives an app the way callers of adaptive rules do.</summary>
public static class AdaptiveCalls
{
    public static Task SyncAsync(GovernanceApp app) => app.Services.GetRequiredService<CalibrationSync>().SyncAsync(CancellationToken.None);

    public static async Task<GetBudgetResponse> AskAsync(GovernanceApp app, string taskType, string org = "lab", TaskFeatures? features = null) =>
        await app.Budgets.GetBudgetAsync(new GetBudgetRequest { OrgId = org, TaskType = taskType, Model = "gpt-test", Features = features ?? new TaskFeatures() });

    /// <summary>
    /// Calls of <paramref name="taskType"/>, each using what <paramref name="need"/> says; truncated
    /// where the need passes the grant, and then (with <paramref name="retries"/>) retried as a
    /// careful client does: attempt + 1, previous stop MAX_TOKENS, up to 4 attempts.
    /// </summary>
    public static async Task CallsAsync(GovernanceApp app, string taskType, int count, Func<int, long> need, string org = "lab", bool retries = false)
    {
        for (var i = 0; i < count; i++)
        {
            var wanted = need(i);
            for (var attempt = 1; attempt <= 4; attempt++)
            {
                var features = attempt == 1 ? null : new TaskFeatures { Attempt = attempt, PreviousStopReason = StopReason.MaxTokens };
                var grant = await AskAsync(app, taskType, org, features);
                var truncated = wanted > grant.Budget.ReasoningTokens;
                var used = truncated ? grant.Budget.ReasoningTokens : wanted;
                await app.Budgets.ReportUsageAsync(new ReportUsageRequest
                {
                    GrantId = grant.GrantId,
                    Usage = new UsageTokens { InputTokens = 100, OutputTokens = used + 50, ReasoningTokens = used },
                    StopReason = truncated ? StopReason.MaxTokens : StopReason.EndTurn,
                });
                if (!truncated || !retries)
                {
                    break;
                }
            }
        }
    }
}

/// <summary>Adaptive rules through the real gRPC surface: budgets follow what calls really use.</summary>
public sealed class AdaptiveBudgetTests : AppTests
{
    private static Task SyncAsync(GovernanceApp app) => AdaptiveCalls.SyncAsync(app);

    private static Task<GetBudgetResponse> AskAsync(GovernanceApp app, string taskType, string org = "lab", TaskFeatures? features = null) => AdaptiveCalls.AskAsync(app, taskType, org, features);

    private static Task CallsAsync(GovernanceApp app, string taskType, int count, Func<int, long> need, string org = "lab", bool retries = false) =>
        AdaptiveCalls.CallsAsync(app, taskType, count, need, org, retries);

    public const string Policy = """
        models:
          - name: gpt-test
            family: openai
            thinking: effort
            input_usd_per_mtok: 1
            output_usd_per_mtok: 4
        tiers:
          - name: adaptive
            target_truncation_rate: 0.05
            rules:
              - task_type: "*"
                min_reasoning_tokens: 256
                default_reasoning_tokens: 2048
                max_reasoning_tokens: 8192
                max_output_tokens: 16384
                soft_limit_threshold: 1.0
              - task_type: light
                min_reasoning_tokens: 256
                default_reasoning_tokens: 4096
                max_reasoning_tokens: 16384
                max_output_tokens: 32768
                soft_limit_threshold: 1.0
                adaptive: true
                min_samples: 40
              - task_type: heavy
                min_reasoning_tokens: 1024
                default_reasoning_tokens: 2048
                max_reasoning_tokens: 16384
                max_output_tokens: 32768
                soft_limit_threshold: 1.0
                adaptive: true
                min_samples: 40
        orgs:
          - id: lab
            tier: adaptive
            quotas:
              - metric: reasoning_tokens
                window: day
                limit: 1000000000
          - id: other
            tier: adaptive
            quotas:
              - metric: requests
                window: day
                limit: 1000000
        """;

    protected override Task<GovernanceApp> StartAsync() => Task.FromResult(GovernanceApp.Create(policy: Policy));

    [Fact]
    public async Task A_sync_deletes_the_rows_of_replicas_gone_longer_than_the_retention_and_keeps_its_own()
    {
        await CallsAsync(App, "light", 5, i => 300);
        var now = App.Time.GetUtcNow().ToUnixTimeMilliseconds();
        await using (var seed = App.Db())
        {
            seed.Calibrations.Add(new CalibrationRow { ReplicaId = "gone", Tier = "adaptive", TaskType = "light", UpdatedAtMs = now - (long)TimeSpan.FromDays(15).TotalMilliseconds });
            await seed.SaveChangesAsync();
        }

        await SyncAsync(App);

        await using var db = App.Db();
        var replicas = await db.Calibrations.AsNoTracking().Select(r => r.ReplicaId).Distinct().ToListAsync();
        Assert.Equal([App.Services.GetRequiredService<ReplicaIdentity>().Id], replicas);
    }

    [Fact]
    public async Task Below_min_samples_the_static_default_applies_and_says_nothing_of_adaptive()
    {
        await CallsAsync(App, "light", 39, i => 300 + (i % 7));
        await SyncAsync(App);

        var grant = await AskAsync(App, "light");

        Assert.Equal(4096, grant.Budget.ReasoningTokens);
        Assert.DoesNotContain(grant.Reasons, r => r.Code == ReasonCode.Adaptive);
        var row = (await App.Admin.GetCalibrationAsync(new GetCalibrationRequest { Tier = "adaptive", TaskType = "light" })).Calibrations.Single();
        Assert.Equal(39, row.Samples, 6);
        Assert.False(row.Active);
        Assert.Equal(4096, row.CurrentBudget);
        Assert.InRange(row.RecommendedBudget, 256, 400);
    }

    [Fact]
    public async Task A_task_type_whose_calls_use_little_converges_to_a_small_budget_that_says_adaptive_with_its_samples()
    {
        await CallsAsync(App, "light", 60, i => 250 + (i % 50));
        await SyncAsync(App);

        var grant = await AskAsync(App, "light");

        Assert.InRange(grant.Budget.ReasoningTokens, 256, 400);
        var adaptive = Assert.Single(grant.Reasons, r => r.Code == ReasonCode.Adaptive);
        Assert.Contains("60 samples", adaptive.Text, StringComparison.Ordinal);
        Assert.Contains("'light'", adaptive.Text, StringComparison.Ordinal);
        var row = (await App.Admin.GetCalibrationAsync(new GetCalibrationRequest { Tier = "adaptive", TaskType = "light" })).Calibrations.Single();
        Assert.True(row.Active);
        Assert.Equal(grant.Budget.ReasoningTokens, row.CurrentBudget);
        Assert.Equal(0, row.TruncationRate);
        Assert.InRange(row.UsedP50, 270, 285);
        Assert.InRange(row.UsedP95, 290, 305);
        Assert.InRange(row.UsedP99, 295, 310);
        Assert.False(row.UsedP50Censored || row.UsedP90Censored || row.UsedP95Censored || row.UsedP99Censored);
        Assert.InRange(row.ReservationEfficiency, 0.05, 0.09); // ~275 used of 4,096 reserved
        Assert.True(row.ProjectedTruncationRate <= 0.05);
    }

    [Fact]
    public async Task A_task_type_that_keeps_truncating_grows_a_step_at_a_time_within_its_rules_max()
    {
        var budgets = new List<long>();
        for (var round = 0; round < 3; round++)
        {
            await CallsAsync(App, "heavy", 50, i => 30_000);
            await SyncAsync(App);
            budgets.Add((await AskAsync(App, "heavy")).Budget.ReasoningTokens);
        }

        var retry = await AskAsync(App, "heavy", features: new TaskFeatures { Attempt = 2, PreviousStopReason = StopReason.MaxTokens });

        // Not the rule's max at once (16,384 for every call until one completes): twice what the
        // calls were truncated at, each rebuild.
        Assert.InRange(budgets[0], 4_096, 4_200);
        Assert.InRange(budgets[1], 2 * budgets[0], 2.1 * budgets[0]);
        Assert.Equal(16_384, budgets[2]);
        Assert.Equal(16_384, retry.Budget.ReasoningTokens);
        Assert.Contains(retry.Reasons, r => r.Code == ReasonCode.Adaptive);
        Assert.Contains(retry.Reasons, r => r.Code == ReasonCode.Escalated);
        var row = (await App.Admin.GetCalibrationAsync(new GetCalibrationRequest { Tier = "adaptive", TaskType = "heavy" })).Calibrations.Single();
        Assert.Equal(1.0, row.TruncationRate);

        // No call completed: no percentile is known, only that each lies beyond the largest budget the calls ran out of.
        Assert.All(
            new[] { (row.UsedP50, row.UsedP50Censored), (row.UsedP90, row.UsedP90Censored), (row.UsedP95, row.UsedP95Censored), (row.UsedP99, row.UsedP99Censored) },
            p =>
            {
                Assert.True(p.Item2);
                Assert.InRange(p.Item1, budgets[1], budgets[1] * 1.03);
            });
    }

    [Fact]
    public async Task After_a_truncation_the_retry_gets_what_such_calls_needed_instead_of_a_blind_factor()
    {
        // Most calls need ~1,500; one in a hundred needs ~6,000 and gets there by retries
        // (static escalation 2,048 -> 4,096 -> 8,192 before the calibration takes over).
        await CallsAsync(App, "heavy", 200, i => i % 100 == 0 ? 6_000 + (i % 3) : 1_500 + (i % 40), retries: true);
        await SyncAsync(App);

        var first = await AskAsync(App, "heavy");
        var retry = await AskAsync(App, "heavy", features: new TaskFeatures { Attempt = 2, PreviousStopReason = StopReason.MaxTokens });

        Assert.Contains(first.Reasons, r => r.Code == ReasonCode.Adaptive);
        Assert.InRange(first.Budget.ReasoningTokens, 1_540, 1_700);

        // Not the rule's factor (2 x base, ~3,300): what the truncated calls went on to need.
        Assert.InRange(retry.Budget.ReasoningTokens, 6_000, 6_700);
        Assert.Contains(retry.Reasons, r => r.Code == ReasonCode.Escalated && r.Text.Contains("truncated at the previous budget", StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_org_with_enough_calls_of_its_own_gets_its_own_calibration()
    {
        await CallsAsync(App, "light", 60, i => 300, org: "lab");
        await CallsAsync(App, "light", 60, i => 3_000 + (i % 10), org: "other");
        await SyncAsync(App);

        var lab = await AskAsync(App, "light", "lab");
        var other = await AskAsync(App, "light", "other");
        var rows = (await App.Admin.GetCalibrationAsync(new GetCalibrationRequest { OrgId = "other", TaskType = "light" })).Calibrations;

        Assert.InRange(lab.Budget.ReasoningTokens, 256, 400);
        Assert.InRange(other.Budget.ReasoningTokens, 3_000, 3_400);
        Assert.Contains("this org's", Assert.Single(other.Reasons, r => r.Code == ReasonCode.Adaptive).Text, StringComparison.Ordinal);
        Assert.Equal(["", "other"], rows.Select(r => r.OrgId).Order().ToArray());
        Assert.Equal(120, rows.Single(r => r.OrgId.Length == 0).Samples, 6);
    }

    [Fact]
    public async Task A_share_of_calibrated_calls_explores_above_the_budget_and_says_so()
    {
        var settings = new Dictionary<string, string> { ["Calibration:ExplorationShare"] = "0.5", ["Calibration:ExplorationFactor"] = "2" };
        await using var exploring = GovernanceApp.Create(policy: Policy, extra: settings);
        await CallsAsync(exploring, "light", 60, i => 250 + (i % 50));
        await SyncAsync(exploring);

        var grants = new List<GetBudgetResponse>();
        for (var i = 0; i < 40; i++)
        {
            grants.Add(await AskAsync(exploring, "light"));
        }

        var explored = grants.Where(g => g.Reasons.Any(r => r.Code == ReasonCode.Exploration)).ToList();
        var plain = grants.Except(explored).ToList();
        Assert.NotEmpty(explored);
        Assert.NotEmpty(plain);
        var budget = plain.Select(g => g.Budget.ReasoningTokens).Distinct().Single();
        Assert.All(explored, g => Assert.InRange(g.Budget.ReasoningTokens, (2 * budget) - 1, (2 * budget) + 1));
        Assert.All(grants, g => Assert.Contains(g.Reasons, r => r.Code == ReasonCode.Adaptive));
    }

    [Fact]
    public async Task With_per_org_statistics_off_every_org_gets_the_tiers_calibration()
    {
        await using var tierOnly = GovernanceApp.Create(policy: Policy, extra: new Dictionary<string, string> { ["Calibration:PerOrg"] = "false" });
        await CallsAsync(tierOnly, "light", 60, i => 3_000, org: "other");
        await SyncAsync(tierOnly);

        var other = await AskAsync(tierOnly, "light", "other");
        var rows = (await tierOnly.Admin.GetCalibrationAsync(new GetCalibrationRequest { OrgId = "other" })).Calibrations;

        Assert.DoesNotContain("this org's", Assert.Single(other.Reasons, r => r.Code == ReasonCode.Adaptive).Text, StringComparison.Ordinal);
        Assert.Equal(string.Empty, Assert.Single(rows).OrgId);
    }

    [Fact]
    public async Task A_learned_complexity_hint_moves_the_adaptive_budget()
    {
        for (var i = 0; i < 100; i++)
        {
            var complexity = (i % 10) / 10.0;
            var grant = await AskAsync(App, "light", features: new TaskFeatures { Complexity = complexity });
            var used = (long)(400 * Math.Exp(2.0 * complexity));
            await App.Budgets.ReportUsageAsync(new ReportUsageRequest
            {
                GrantId = grant.GrantId,
                Usage = new UsageTokens { OutputTokens = used + 10, ReasoningTokens = used },
                StopReason = StopReason.EndTurn,
            });
        }

        await SyncAsync(App);
        var easy = await AskAsync(App, "light", features: new TaskFeatures { Complexity = 0.0 });
        var hard = await AskAsync(App, "light", features: new TaskFeatures { Complexity = 1.0 });
        var row = (await App.Admin.GetCalibrationAsync(new GetCalibrationRequest { TaskType = "light" })).Calibrations.Single();

        Assert.InRange(row.ComplexitySlope, 1.9, 2.1);
        Assert.True(hard.Budget.ReasoningTokens > 4 * easy.Budget.ReasoningTokens, $"hard {hard.Budget.ReasoningTokens}, easy {easy.Budget.ReasoningTokens}");
        Assert.Contains(hard.Reasons, r => r.Code == ReasonCode.Complexity && r.Text.Contains("learned", StringComparison.Ordinal));
    }

    [Fact]
    public async Task GetCalibration_refuses_an_unknown_tier_or_org_and_an_org_admin_sees_only_its_own_org()
    {
        await CallsAsync(App, "light", 5, i => 300, org: "other");
        await SyncAsync(App);
        var (secret, _) = await App.CreateKeyAsync(ApiKeyRole.OrgAdmin, "lab");

        var tier = await Assert.ThrowsAsync<RpcException>(() => App.Admin.GetCalibrationAsync(new GetCalibrationRequest { Tier = "nope" }).ResponseAsync);
        var org = await Assert.ThrowsAsync<RpcException>(() => App.Admin.GetCalibrationAsync(new GetCalibrationRequest { OrgId = "nope" }).ResponseAsync);
        var foreign = await Assert.ThrowsAsync<RpcException>(() => App.AdminFor(secret).GetCalibrationAsync(new GetCalibrationRequest { OrgId = "other" }).ResponseAsync);
        var own = await App.AdminFor(secret).GetCalibrationAsync(new GetCalibrationRequest { OrgId = "lab" });

        Assert.Equal(StatusCode.NotFound, tier.StatusCode);
        Assert.Equal(StatusCode.NotFound, org.StatusCode);
        Assert.Equal(StatusCode.PermissionDenied, foreign.StatusCode);
        Assert.All(own.Calibrations, r => Assert.Equal(string.Empty, r.OrgId));
    }

    [Fact]
    public async Task Calibration_is_flushed_to_the_database_and_a_second_instance_on_it_grants_from_it()
    {
        await CallsAsync(App, "light", 60, i => 280);
        await SyncAsync(App);
        await using (var db = App.Db())
        {
            Assert.Equal(2, await db.Calibrations.CountAsync()); // tier-wide and the org's own
        }

        await using var second = GovernanceApp.Create(policy: Policy, extra: new Dictionary<string, string> { ["Storage:DataDirectory"] = App.DataDirectory });
        await SyncAsync(second);
        await CallsAsync(second, "light", 10, i => 280);
        await SyncAsync(second);
        await SyncAsync(App);

        var grant = await AskAsync(second, "light");
        var seenBySecond = (await second.Admin.GetCalibrationAsync(new GetCalibrationRequest { TaskType = "light" })).Calibrations.Single();
        var seenByFirst = (await App.Admin.GetCalibrationAsync(new GetCalibrationRequest { TaskType = "light" })).Calibrations.Single();

        Assert.InRange(grant.Budget.ReasoningTokens, 256, 400);
        Assert.Contains("70 samples", Assert.Single(grant.Reasons, r => r.Code == ReasonCode.Adaptive).Text, StringComparison.Ordinal);
        Assert.Equal(70, seenBySecond.Samples, 6);
        Assert.Equal(70, seenByFirst.Samples, 6);
    }
}
