using System.Globalization;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Grpc.Net.Client;
using TaskBudgets.Cli;
using TaskBudgets.V1;

namespace TaskBudgets.Workload;

/// <summary>What a run measured.</summary>
internal sealed record WorkloadResult(long FixedBudget, PhaseMetrics Fixed, PhaseMetrics? Adaptive, string Svg)
{
    /// <summary>With --shift: the shifted type's calls after the change, against the optimum on the shifted needs.</summary>
    public ShiftReport? Shift { get; init; }
}

/// <summary>
/// One run: choose the best single fixed budget offline, run the fixed phase and then the adaptive
/// phase through the API, print the comparison and draw the chart.
/// </summary>
internal static class WorkloadRun
{
    /// <summary>The fixed budget and the policy, from the workload alone (no server).</summary>
    public static (OfflineNeeds Needs, long FixedBudget, string PolicyYaml) Prepare(WorkloadFile workload, WorkloadOptions options)
    {
        ArgumentNullException.ThrowIfNull(workload);
        ArgumentNullException.ThrowIfNull(options);

        // The offline sample has its own seed: the fixed budget is not fitted to the very calls it is measured on.
        var needs = OfflineNeeds.Sample(workload, options.Seed + 1_000_003, options.OfflineCalls, options.HintCorrelation, callFeatures: options.CallFeatures);
        var fixedBudget = needs.BestFixedBudget(workload.TargetTruncationRate);
        return (needs, fixedBudget, WorkloadPolicy.Yaml(workload, fixedBudget, options.Adaptive, options.MinSamples, options.AdaptiveDefault ?? fixedBudget));
    }

    /// <summary>Runs both phases against a server that already has the workload's policy.</summary>
    public static async Task<WorkloadResult> RunPhasesAsync(
        BudgetService.BudgetServiceClient budgets, WorkloadFile workload, WorkloadOptions options, OfflineNeeds needs, long fixedBudget, TextWriter log, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(log);

        // Each phase draws its calls from its own stream of the seed, so adding calls to one does not change the other.
        var fixedPlan = new NeedSampler(workload, options.Seed, callFeatures: options.CallFeatures).Plan(options.FixedCalls);
        await log.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"fixed phase: {options.FixedCalls:N0} calls at {fixedBudget:N0} reasoning tokens"));
        var fixedCalls = await PhaseRunner.RunAsync(budgets, workload, WorkloadPolicy.FixedOrg, fixedPlan, options.Concurrency, n => log.WriteLine($"  {n:N0} calls"), cancellationToken);
        var fixedMetrics = PhaseMetrics.Of("fixed", workload, fixedCalls, 0);

        PhaseMetrics? adaptiveMetrics = null;
        ShiftReport? shiftReport = null;
        if (options.Adaptive)
        {
            var adaptivePlan = new NeedSampler(workload, options.Seed + 1, options.HintCorrelation, options.CallFeatures).Plan(options.Calls);
            if (options.Shift is { } shift)
            {
                adaptivePlan = shift.Apply(workload, adaptivePlan, shift.FromCall);
            }

            await log.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"adaptive phase: {options.Calls:N0} calls, measured over the last {options.MeasureLast:N0}"));
            var adaptiveCalls = await PhaseRunner.RunAsync(budgets, workload, WorkloadPolicy.AdaptiveOrg, adaptivePlan, options.Concurrency, n => log.WriteLine($"  {n:N0} calls"), cancellationToken, options.MaxAttempts);
            adaptiveMetrics = PhaseMetrics.Of("adaptive", workload, adaptiveCalls, options.Calls - options.MeasureLast);

            if (options.Shift is { } shifted)
            {
                var shiftedNeeds = OfflineNeeds.Sample(workload, options.Seed + 1_000_003, options.OfflineCalls, options.HintCorrelation, shifted, options.CallFeatures);
                shiftReport = ShiftReport.Of(workload, shifted, adaptiveCalls, needs, shiftedNeeds);
            }
        }

        return new WorkloadResult(fixedBudget, fixedMetrics, adaptiveMetrics, TradeoffChart.Svg(workload, needs, fixedBudget, fixedMetrics, adaptiveMetrics)) { Shift = shiftReport };
    }

    /// <summary>The whole program: prepare, get a server (started here or given), run, report.</summary>
    public static async Task<int> MainAsync(WorkloadOptions options, TextWriter output, TextWriter log, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(output);
        var workload = WorkloadFile.Load(options.Workload);
        if (options.CallFeatures && workload.CallFeatures is null)
        {
            await log.WriteLineAsync($"error: --call-features needs a call_features section in {options.Workload}");
            return 1;
        }

        var (needs, fixedBudget, policy) = Prepare(workload, options);
        if (options.PolicyOut is { } policyOut)
        {
            await File.WriteAllTextAsync(policyOut, policy, cancellationToken);
        }

        await log.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"workload {Path.GetFileName(options.Workload)}: {workload.TaskTypes.Count} task types, seed {options.Seed}; best single fixed budget {fixedBudget:N0} (offline, {options.OfflineCalls:N0} sampled needs)"));
        if (options.CallFeatures && workload.CallFeatures is { } features)
        {
            var phases = string.Join(", ", features.Phases.Select(p => string.Create(CultureInfo.InvariantCulture, $"{p.Share * 100:0.#}% {p.Phase} (need x{p.NeedFactor:0.##})")));
            var input = features.InputTokens?.Lognormal is { } size ? string.Create(CultureInfo.InvariantCulture, $"input median {size.Median:N0} tokens (sigma {size.Sigma:0.##}), need x (input / 16,384) ^ {features.InputElasticity:0.##} past 16,384") : "input 500 tokens";
            await log.WriteLineAsync($"call features: {(phases.Length == 0 ? "every call standard" : phases + ", the rest standard")}; {input}");
        }

        WorkloadServer? started = null;
        string address;
        string key;
        if (options.Server is { } server)
        {
            address = server;
            key = options.Key!;
            await ApplyAsync(address, key, policy, log, cancellationToken);
        }
        else
        {
            started = await WorkloadServer.StartAsync(policy, options.ServerDll, options.SyncInterval, log);
            address = started.GrpcAddress;
            key = WorkloadServer.AdminKey;
        }

        try
        {
            using var channel = GrpcChannel.ForAddress(address);
            var invoker = channel.Intercept(headers =>
            {
                headers.Add("authorization", "Bearer " + key);
                return headers;
            });
            var budgets = new BudgetService.BudgetServiceClient(invoker);
            var result = await RunPhasesAsync(budgets, workload, options, needs, fixedBudget, log, cancellationToken);
            await output.WriteLineAsync();
            WorkloadReport.Write(output, workload, fixedBudget, result.Fixed, result.Adaptive, needs);
            if (result.Adaptive is { } adaptive && options.MaxAttempts > 1)
            {
                var calibration = await new AdminService.AdminServiceClient(invoker).GetCalibrationAsync(new GetCalibrationRequest { Tier = WorkloadPolicy.AdaptiveTier }, cancellationToken: cancellationToken);
                RetryReport.Write(output, workload, options.MaxAttempts, adaptive, needs, [.. calibration.Calibrations.Where(c => c.OrgId.Length == 0)]);
            }

            result.Shift?.Write(output);
            if (options.Adaptive)
            {
                await WriteChangesAsync(new AdminService.AdminServiceClient(invoker), output, cancellationToken);
            }

            await File.WriteAllTextAsync(options.Out, result.Svg, cancellationToken);
            await output.WriteLineAsync($"chart: {options.Out}");
            return 0;
        }
        finally
        {
            if (started is not null)
            {
                await started.DisposeAsync();
            }
        }
    }

    /// <summary>What the calibration says it detected: changes of need per task type of the adaptive tier, tier-wide and the org's own (false alarms, on a run without --shift).</summary>
    private static async Task WriteChangesAsync(AdminService.AdminServiceClient admin, TextWriter output, CancellationToken cancellationToken)
    {
        var calibration = await admin.GetCalibrationAsync(new GetCalibrationRequest { OrgId = WorkloadPolicy.AdaptiveOrg }, cancellationToken: cancellationToken);
        foreach (var whose in calibration.Calibrations.GroupBy(c => c.OrgId))
        {
            var rows = whose.Select(c => string.Create(CultureInfo.InvariantCulture, $"{c.TaskType} {c.ChangesDetected}{(c.Recalibrating ? " (recalibrating)" : string.Empty)}"));
            await output.WriteLineAsync($"changes of need detected (GetCalibration, {(whose.Key.Length == 0 ? "tier-wide" : "org " + whose.Key)}): " + string.Join(", ", rows));
        }
    }

    /// <summary>Loads the workload's orgs, tiers and model into a running server, as `taskbudgets apply -f` does.</summary>
    private static async Task ApplyAsync(string address, string key, string policy, TextWriter log, CancellationToken cancellationToken)
    {
        var file = Path.Combine(Path.GetTempPath(), "tb-workload-policy-" + Guid.NewGuid().ToString("N")[..8] + ".yaml");
        await File.WriteAllTextAsync(file, policy, cancellationToken);
        try
        {
            using var stdout = new StringWriter();
            using var stderr = new StringWriter();
            var exit = await CliApp.RunAsync(["--address", address, "--key", key, "apply", "-f", file], stdout, stderr, _ => null, cancellationToken);
            await log.WriteAsync(stdout.ToString());
            if (exit != 0)
            {
                throw new RpcException(new Status(StatusCode.FailedPrecondition, $"applying the workload's policy failed ({exit}): {stderr}"));
            }
        }
        finally
        {
            File.Delete(file);
        }
    }
}
