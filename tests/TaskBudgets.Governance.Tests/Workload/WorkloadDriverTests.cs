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
    }
}
