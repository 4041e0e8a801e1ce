using System.Xml.Linq;
using TaskBudgets.Governance.Tests.Calibration;
using TaskBudgets.Governance.Tests.Infrastructure;
using TaskBudgets.Workload;

namespace TaskBudgets.Governance.Tests.Workload;

/// <summary>The workload driver's core (tests/TaskBudgets.Workload) on a small workload, through the real gRPC API of an in-process server.</summary>
public sealed class WorkloadDriverTests
{
    private static WorkloadFile Small() => WorkloadFile.Load(Path.Combine(Repository.Root, "tests", "TaskBudgets.Workload", "workloads", "small.yaml"));

    [Fact]
    public void The_best_fixed_budget_is_the_smallest_that_reaches_the_target_truncation_rate()
    {
        var workload = Small();
        var needs = OfflineNeeds.Sample(workload, seed: 11, calls: 50_000);

        var budget = needs.BestFixedBudget(workload.TargetTruncationRate);

        Assert.InRange(needs.TruncationRate(-1, budget), 0, workload.TargetTruncationRate);
        Assert.True(needs.TruncationRate(-1, budget - 1) > workload.TargetTruncationRate);
        Assert.Equal(needs.BestFixedBudget(workload.TargetTruncationRate), OfflineNeeds.Sample(workload, seed: 11, calls: 50_000).BestFixedBudget(workload.TargetTruncationRate));
    }

    [Fact]
    public void A_hint_correlated_with_need_leaves_the_needs_as_they_were_and_lets_the_full_knowledge_optimum_reserve_less()
    {
        var workload = Small();
        var plain = new NeedSampler(workload, 9).Plan(20_000);
        var hinted = new NeedSampler(workload, 9, hintCorrelation: 0.95).Plan(20_000);
        var noise = new NeedSampler(workload, 9, hintCorrelation: 0).Plan(20_000);

        Assert.Equal(plain.Select(c => (c.TaskType, c.Need)), hinted.Select(c => (c.TaskType, c.Need)));
        Assert.All(hinted, c => Assert.InRange(c.Complexity!.Value, 0.0, 1.0));
        Assert.InRange(HintNeedCorrelation(hinted, type: 1), 0.8, 1.0);
        Assert.InRange(HintNeedCorrelation(noise, type: 1), -0.05, 0.05);

        var withHint = OfflineNeeds.Sample(workload, 12, 100_000, hintCorrelation: 0.95);
        var withNoise = OfflineNeeds.Sample(workload, 12, 100_000, hintCorrelation: 0);
        var target = workload.TargetTruncationRate;
        Assert.True(withHint.OptimalAllocationByHint(target)!.Value.Efficiency > 1.1 * withHint.OptimalAllocation(target).Efficiency, "the hint lets the optimum reserve less per call");
        Assert.InRange(withNoise.OptimalAllocationByHint(target)!.Value.Efficiency / withNoise.OptimalAllocation(target).Efficiency, 0.98, 1.05);
        Assert.InRange(withHint.OptimalAllocation(target).TruncationRate, target - 0.002, target);
        Assert.Null(OfflineNeeds.Sample(workload, 12, 1_000).OptimalAllocationByHint(target));
    }

    [Fact]
    public void Call_features_multiply_the_base_needs_by_their_known_effect_and_let_the_full_knowledge_optimum_reserve_less()
    {
        var workload = Small();
        var features = workload.CallFeatures!;
        var plain = new NeedSampler(workload, 9, hintCorrelation: 0.8).Plan(20_000);
        var featured = new NeedSampler(workload, 9, hintCorrelation: 0.8, callFeatures: true).Plan(20_000);

        // Same calls, same hints (from the base need); each need is the base need x its phase's and input's factors.
        Assert.Equal(plain.Select(c => (c.TaskType, c.Complexity)), featured.Select(c => (c.TaskType, c.Complexity)));
        Assert.All(plain.Zip(featured), pair =>
        {
            var (p, f) = pair;
            var phaseFactor = features.Phases.SingleOrDefault(e => e.Phase == (f.Phase == TaskBudgets.V1.Phase.Deep ? "deep" : "preliminary"))?.NeedFactor;
            var factor = (f.Phase == TaskBudgets.V1.Phase.Standard ? 1.0 : phaseFactor!.Value) * features.InputFactor(f.InputTokens);
            Assert.Equal(Math.Max(1, Math.Round(p.Need * factor)), f.Need, 0);
            Assert.InRange(f.InputTokens, features.InputTokens!.Min, features.InputTokens.Max);
        });
        Assert.InRange(featured.Count(c => c.Phase == TaskBudgets.V1.Phase.Preliminary) / 20_000.0, 0.28, 0.32);
        Assert.InRange(featured.Count(c => c.Phase == TaskBudgets.V1.Phase.Deep) / 20_000.0, 0.09, 0.11);
        Assert.Contains(featured, c => c.InputTokens > 2 * WorkloadFile.CallFeaturesEntry.LongInput);
        Assert.All(plain, c => Assert.Equal((TaskBudgets.V1.Phase.Unspecified, 500L), (c.Phase, c.InputTokens)));

        var needs = OfflineNeeds.Sample(workload, 12, 100_000, callFeatures: true);
        var target = workload.TargetTruncationRate;
        var byFeatures = needs.OptimalAllocationByFeatures(target)!.Value;
        Assert.True(byFeatures.Efficiency > 1.1 * needs.OptimalAllocation(target).Efficiency, "the phase and input size let the optimum reserve less per call");
        Assert.InRange(byFeatures.TruncationRate, target - 0.002, target);
        var byPhase = needs.ByPhase((t, p, b) => byFeatures.Budgets[OfflineNeeds.FeatureGroup(t, p, b)]);
        Assert.Equal(100_000, byPhase.Sum(g => g.Calls));
        Assert.Equal(byFeatures.TruncationRate, byPhase.Sum(g => g.Calls * g.TruncationRate) / 100_000, 6);
        Assert.Null(OfflineNeeds.Sample(workload, 12, 1_000).OptimalAllocationByFeatures(target));
    }

    [Fact]
    public void A_bad_call_features_section_is_refused_with_each_problem_named()
    {
        var file = Path.Combine(Path.GetTempPath(), "tb-workload-" + Guid.NewGuid().ToString("N")[..8] + ".yaml");
        File.WriteAllText(file, File.ReadAllText(Path.Combine(Repository.Root, "tests", "TaskBudgets.Workload", "workloads", "small.yaml"))
            .Replace("phase: deep, share: 0.1", "phase: standard, share: 0.8", StringComparison.Ordinal)
            .Replace("min: 100", "min: 0", StringComparison.Ordinal));
        try
        {
            var error = Assert.Throws<InvalidDataException>(() => WorkloadFile.Load(file));

            Assert.Contains("call_features.phases[1].phase: preliminary or deep", error.Message, StringComparison.Ordinal);
            Assert.Contains("call_features.phases: the shares add up to more than 1", error.Message, StringComparison.Ordinal);
            Assert.Contains("call_features.input_tokens:", error.Message, StringComparison.Ordinal);
            Assert.Throws<ArgumentException>(() => new NeedSampler(new WorkloadFile { TaskTypes = Small().TaskTypes }, 1, callFeatures: true));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task Calls_with_features_are_sent_with_their_phase_and_input_size_and_the_fixed_tier_ignores_them()
    {
        var workload = Small();
        var options = new WorkloadOptions { Adaptive = true, MinSamples = 10_000, Seed = 4, OfflineCalls = 50_000, Concurrency = 8, CallFeatures = true };
        var (_, fixedBudget, policy) = WorkloadRun.Prepare(workload, options);
        await using var app = GovernanceApp.Create(policy: policy);
        var ct = TestContext.Current.CancellationToken;
        var plan = new NeedSampler(workload, 4, callFeatures: true).Plan(300);

        var fixedCalls = await PhaseRunner.RunAsync(app.Budgets, workload, WorkloadPolicy.FixedOrg, plan, 8, null, ct);
        var adaptiveCalls = await PhaseRunner.RunAsync(app.Budgets, workload, WorkloadPolicy.AdaptiveOrg, plan, 8, null, ct);

        Assert.All(fixedCalls, c => Assert.Equal(fixedBudget, c.Granted));

        // Below min_samples the adaptive rules grant their default, shaped by the rule's phase and long-input handling.
        var longInput = WorkloadFile.CallFeaturesEntry.LongInput;
        CallRecord[] Of(TaskBudgets.V1.Phase phase, bool? longer = null) =>
            [.. adaptiveCalls.Where(c => c.Phase == phase && (longer is null || longer == c.InputTokens > longInput))];
        Assert.All(Of(TaskBudgets.V1.Phase.Standard, longer: false), c => Assert.Equal(fixedBudget, c.Granted));
        Assert.All(Of(TaskBudgets.V1.Phase.Standard, longer: true), c => Assert.True(c.Granted > fixedBudget));
        Assert.All(Of(TaskBudgets.V1.Phase.Preliminary, longer: false), c => Assert.Equal((long)Math.Round(fixedBudget * 0.25, MidpointRounding.AwayFromZero), c.Granted));
        // A deep call of an adaptive rule before its phase is learned: twice its budget, not the rule's max.
        Assert.All(Of(TaskBudgets.V1.Phase.Deep), c => Assert.InRange(c.Granted, (2 * fixedBudget * global::TaskBudgets.Governance.Budgeting.BudgetDecision.LongInputStep(c.InputTokens)) - 1, (2 * fixedBudget * global::TaskBudgets.Governance.Budgeting.BudgetDecision.LongInputStep(c.InputTokens)) + 1));
        Assert.All(Of(TaskBudgets.V1.Phase.Deep), c => Assert.True(c.Granted < WorkloadPolicy.AdaptiveMax));
        Assert.All(new[] { Of(TaskBudgets.V1.Phase.Standard, false), Of(TaskBudgets.V1.Phase.Standard, true), Of(TaskBudgets.V1.Phase.Preliminary, false), Of(TaskBudgets.V1.Phase.Deep) }, group => Assert.True(group.Length >= 10));
        Assert.Equal(plan.Select(c => (c.Phase, c.InputTokens)), adaptiveCalls.Select(c => (c.Phase, c.InputTokens)));
    }

    /// <summary>Pearson correlation of the hint's probit (approximated by its rank) with log need, within one task type.</summary>
    private static double HintNeedCorrelation(PlannedCall[] calls, int type)
    {
        var of = calls.Where(c => c.TaskType == type).ToArray();
        var x = of.Select(c => c.Complexity!.Value).ToArray();
        var y = of.Select(c => Math.Log(c.Need)).ToArray();
        double mx = x.Average(), my = y.Average();
        var cov = x.Zip(y, (a, b) => (a - mx) * (b - my)).Sum();
        return cov / Math.Sqrt(x.Sum(a => (a - mx) * (a - mx)) * y.Sum(b => (b - my) * (b - my)));
    }

    [Fact]
    public async Task The_fixed_phase_runs_through_the_API_near_its_target_and_the_chart_is_well_formed_svg()
    {
        var workload = Small();
        var options = new WorkloadOptions { Adaptive = false, FixedCalls = 1_200, Seed = 3, OfflineCalls = 100_000, Concurrency = 8 };
        var (needs, fixedBudget, policy) = WorkloadRun.Prepare(workload, options);
        await using var app = GovernanceApp.Create(policy: policy);

        var result = await WorkloadRun.RunPhasesAsync(app.Budgets, workload, options, needs, fixedBudget, TextWriter.Null, TestContext.Current.CancellationToken);
        var report = new StringWriter();
        WorkloadReport.Write(report, workload, fixedBudget, result.Fixed, result.Adaptive);

        var total = result.Fixed.Total;
        Assert.Equal(1_200, total.Calls);
        Assert.Equal(1_200L * fixedBudget, total.Reserved); // every call got the tier's one budget
        Assert.InRange(total.TruncationRate, workload.TargetTruncationRate - 0.015, workload.TargetTruncationRate + 0.015);
        Assert.InRange(total.Efficiency, 0.01, 1.0);
        Assert.Equal(0, result.Fixed.ByType[0].Truncations); // the light task type never needs the heavy one's budget
        Assert.True(result.Fixed.ByType[2].TruncationRate > total.TruncationRate);
        Assert.Null(result.Adaptive);
        Assert.Contains("total", report.ToString(), StringComparison.Ordinal);

        var svg = XDocument.Parse(result.Svg);
        XNamespace ns = "http://www.w3.org/2000/svg";
        Assert.Equal(ns + "svg", svg.Root!.Name);
        Assert.Equal(3, svg.Descendants(ns + "polyline").Count());
        Assert.Equal(3, svg.Descendants(ns + "circle").Count());
    }

    [Fact]
    public async Task Adaptive_rules_learn_from_usage_reports_and_reserve_far_less_than_the_fixed_budget_at_the_target()
    {
        var workload = Small();
        var options = new WorkloadOptions { Adaptive = true, MinSamples = 50, FixedCalls = 600, Seed = 5, OfflineCalls = 100_000, Concurrency = 8 };
        var (_, fixedBudget, policy) = WorkloadRun.Prepare(workload, options);
        await using var app = GovernanceApp.Create(policy: policy);
        var ct = TestContext.Current.CancellationToken;

        var fixedCalls = await PhaseRunner.RunAsync(app.Budgets, workload, WorkloadPolicy.FixedOrg, new NeedSampler(workload, 5).Plan(600), 8, null, ct);

        // The in-process app's clock stands still, so the calibration is synced after each chunk
        // of calls (a running server does it every Calibration:SyncInterval).
        var plan = new NeedSampler(workload, 6).Plan(2_000);
        var adaptiveCalls = new List<CallRecord>();
        foreach (var chunk in plan.Chunk(400))
        {
            adaptiveCalls.AddRange(await PhaseRunner.RunAsync(app.Budgets, workload, WorkloadPolicy.AdaptiveOrg, chunk, 8, null, ct));
            await AdaptiveCalls.SyncAsync(app);
        }

        var fixedPhase = PhaseMetrics.Of("fixed", workload, fixedCalls, 0);
        var adaptive = PhaseMetrics.Of("adaptive", workload, [.. adaptiveCalls], 1_200);

        Assert.Equal(800, adaptive.MeasuredCalls);
        Assert.InRange(adaptive.Total.TruncationRate, 0.0, workload.TargetTruncationRate + 0.03);
        Assert.True(adaptive.Total.Efficiency > 1.5 * fixedPhase.Total.Efficiency, $"adaptive {adaptive.Total.Efficiency:P1} vs fixed {fixedPhase.Total.Efficiency:P1}");
        Assert.True(adaptive.ByType[0].ReservedPerCall < fixedBudget / 10.0, $"the light task type still reserves {adaptive.ByType[0].ReservedPerCall:N0} of {fixedBudget:N0}");

        // The first chunk ran before any sync: its calls got the rule's default, and the window of
        // calibrated grants leaves them out.
        Assert.All(adaptiveCalls.Take(400), c => Assert.False(c.Calibrated));
        var learning = Assert.NotNull(adaptive.WorstCalibrated);
        Assert.InRange(learning.FirstCall, 400, 999);
        Assert.True(learning.LastCall - learning.FirstCall + 1 >= PhaseMetrics.WindowCalls);
        Assert.True(learning.Efficiency > fixedPhase.Total.Efficiency, "learning windows beat the default's");
    }

    [Fact]
    public async Task With_retries_every_task_completes_and_the_calibration_counts_tasks_and_projects_their_truncation()
    {
        var workload = Small();
        var options = new WorkloadOptions { Adaptive = true, MinSamples = 50, FixedCalls = 600, Seed = 5, OfflineCalls = 100_000, Concurrency = 8, MaxAttempts = 4 };
        var (needs, _, policy) = WorkloadRun.Prepare(workload, options);
        await using var app = GovernanceApp.Create(policy: policy);
        var ct = TestContext.Current.CancellationToken;

        var plan = new NeedSampler(workload, 6).Plan(2_000);
        var tasks = new List<CallRecord>();
        foreach (var chunk in plan.Chunk(400))
        {
            tasks.AddRange(await PhaseRunner.RunAsync(app.Budgets, workload, WorkloadPolicy.AdaptiveOrg, chunk, 8, null, ct, options.MaxAttempts));
            await AdaptiveCalls.SyncAsync(app);
        }

        var adaptive = PhaseMetrics.Of("adaptive", workload, [.. tasks], 1_200);
        var rows = (await app.Admin.GetCalibrationAsync(new TaskBudgets.V1.GetCalibrationRequest { Tier = WorkloadPolicy.AdaptiveTier }, cancellationToken: ct)).Calibrations
            .Where(c => c.OrgId.Length == 0).ToList();

        Assert.Contains(tasks, t => t.Attempts > 1 && t.ReservedAll > t.Granted);
        Assert.True(adaptive.Total.Completed >= adaptive.Total.Calls - 2, $"{adaptive.Total.Completed} of {adaptive.Total.Calls} tasks completed");

        // The calibration counts each task once (the in-process clock stands still: no decay);
        // its retries beside them.
        Assert.Equal(2_000, rows.Sum(r => r.Samples), 6);
        Assert.Equal(tasks.Sum(t => t.Attempts - 1), rows.Sum(r => r.Retries), 6);

        var projected = rows.Sum(r => r.Samples * r.ProjectedTruncationRate) / rows.Sum(r => r.Samples);
        Assert.InRange(projected, adaptive.Total.TruncationRate - 0.025, adaptive.Total.TruncationRate + 0.025);
        Assert.All(rows.Where(r => r.Active), r => Assert.Equal(3, r.EscalationBudgets.Count));

        var optimal = needs.OptimalLadders(workload.TargetTruncationRate, WorkloadPolicy.AdaptiveMin, WorkloadPolicy.AdaptiveMax, options.MaxAttempts);
        Assert.InRange(optimal[^1].TruncationRate, 0, workload.TargetTruncationRate);
        Assert.InRange(adaptive.Total.ReservedPerCompletedTask / optimal[^1].ReservedPerCompletedTask, 0.8, 1.5);
        var report = new StringWriter();
        RetryReport.Write(report, workload, options.MaxAttempts, adaptive, needs, rows);
        Assert.Contains("optimal ladder", report.ToString(), StringComparison.Ordinal);
    }
}
