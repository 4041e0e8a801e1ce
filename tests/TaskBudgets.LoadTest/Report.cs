using System.Globalization;
using System.Text.Json;

namespace TaskBudgets.LoadTest;

/// <summary>Where and how a run ran.</summary>
internal sealed record RunInfo(string Server, Machine Machine, string LoadBefore, string LoadAfter, IReadOnlyDictionary<string, long> BaselineAnswers);

/// <summary>Prints a run's results: a table for people, or one JSON document (--json).</summary>
internal static class Report
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    /// <summary>Targets of issue 6 for a GetBudget run against the baseline.</summary>
    private const double ThroughputTarget = 0.8;
    private const double P99Target = 1.5;

    /// <summary>Full cycles a second, on PostgreSQL and on SQLite.</summary>
    private const double CycleTarget = 10_000;

    /// <param name="roundRatios">Each round's throughput against its own baseline, in order.</param>
    public static void Phases(LoadOptions options, RunInfo run, PhaseResult? baseline, PhaseResult target, IReadOnlyList<double> roundRatios, TextWriter output)
    {
        double? throughputRatio = baseline is null || baseline.Throughput == 0 ? null : target.Throughput / baseline.Throughput;
        double? p99Ratio = baseline is null || baseline.Latency.Percentile(0.99) == 0 ? null : (double)target.Latency.Percentile(0.99) / baseline.Latency.Percentile(0.99);
        if (options.Json)
        {
            var phases = new List<object>();
            if (baseline is not null)
            {
                phases.Add(Phase(baseline));
            }

            phases.Add(Phase(target));
            output.WriteLine(JsonSerializer.Serialize(new
            {
                mode = options.Mode.ToString().ToLowerInvariant(),
                options.Concurrency,
                options.Connections,
                durationSeconds = options.MeasuredDuration.TotalSeconds,
                warmupSeconds = options.WarmupTime.TotalSeconds,
                options.Rounds,
                orgs = options.OrgIdList.Count,
                options.Principals,
                taskMix = string.Join(',', options.TaskMix.Select(m => $"{m.TaskType}:{m.Weight}")),
                run.Server,
                run.Machine,
                loadAverageBefore = run.LoadBefore,
                loadAverageAfter = run.LoadAfter,
                baselineAnswers = run.BaselineAnswers,
                phases,
                ratios = throughputRatio is null ? null : new
                {
                    throughput = throughputRatio,
                    throughputPerRound = roundRatios,
                    p99 = p99Ratio,
                    throughputTarget = ThroughputTarget,
                    p99Target = P99Target,
                    met = options.Mode == LoadMode.Budget ? throughputRatio >= ThroughputTarget && p99Ratio <= P99Target : (bool?)null,
                },
            }, Json));
            return;
        }

        output.WriteLine(Invariant($"TaskBudgets load test: mode {options.Mode.ToString().ToLowerInvariant()}, {options.Concurrency} in flight over {options.Connections} HTTP/2 connections, {options.MeasuredDuration.TotalSeconds:0.#} s measured after {options.WarmupTime.TotalSeconds:0.#} s warm-up, {options.Rounds} round(s)"));
        output.WriteLine(Invariant($"workload: {options.OrgIdList.Count} orgs x {options.Principals} principals, task mix {string.Join(',', options.TaskMix.Select(m => $"{m.TaskType}:{m.Weight}"))}, model {options.Model}"));
        output.WriteLine($"server: {run.Server}");
        output.WriteLine(Invariant($"machine: {run.Machine.Cores} cores ({run.Machine.Cpu}), {run.Machine.Memory}, {run.Machine.Runtime}; load generator on the same machine; load average {run.LoadBefore} before, {run.LoadAfter} after"));
        output.WriteLine();
        output.WriteLine($"{"phase",-12} {"ok/s",10} {"mean ms",8} {"p50 ms",8} {"p99 ms",8} {"p999 ms",8} {"max ms",8} {"errors",8} {"client cores",12} {"server cores",12} {"server µs/op",12}");
        if (baseline is not null)
        {
            Row(output, baseline.Name, baseline, baseline.Latency);
        }

        Row(output, target.Name, target, target.Latency);
        foreach (var (stage, histogram) in target.Stages.OrderBy(s => s.Key, StringComparer.Ordinal))
        {
            Row(output, "  " + stage, null, histogram);
        }

        if (throughputRatio is { } tr && p99Ratio is { } pr)
        {
            output.WriteLine();
            output.WriteLine(Invariant($"{target.Name} / baseline: throughput {tr:0.00}x, p99 {pr:0.00}x"));
            if (roundRatios.Count > 1)
            {
                // How far rounds of one run spread says how much one ratio can be trusted.
                output.WriteLine(Invariant($"throughput ratio by round: {string.Join(", ", roundRatios.Select(r => Invariant($"{r:0.00}x")))}"));
            }

            if (options.Mode == LoadMode.Budget)
            {
                output.WriteLine(Invariant($"targets: throughput >= {ThroughputTarget}x: {(tr >= ThroughputTarget ? "met" : "MISSED")}; p99 <= {P99Target}x: {(pr <= P99Target ? "met" : "MISSED")}"));
            }
            else
            {
                // The baseline is two no-op calls per operation: what the machine allows two RPCs a cycle.
                output.WriteLine(Invariant($"the no-op ceiling: {baseline!.Throughput:N0} cycles/s of two health checks each; target {CycleTarget:N0}/s: {(target.Throughput >= CycleTarget ? "met" : "MISSED")} ({target.Throughput / CycleTarget:P0} of it)"));
            }
        }

        if (baseline is not null && run.BaselineAnswers.Keys.Any(k => k != "Serving"))
        {
            output.WriteLine();
            output.WriteLine("baseline health answers: " + string.Join(", ", run.BaselineAnswers.Select(a => Invariant($"{a.Key} {a.Value:N0}"))) + " (timed all the same: the round trip is the baseline)");
        }

        output.WriteLine();
        foreach (var phase in new[] { baseline, target })
        {
            if (phase is not null)
            {
                // The generator shares the machine: what its own GC costs is taken from the server.
                output.WriteLine(Invariant($"{phase.Name}: the load generator's GC made {phase.ClientCollections / phase.Seconds:N1} collections a second and paused it {1000 * phase.ClientGcPauseSeconds / phase.Seconds:N0} ms a second"));
            }
        }

        foreach (var phase in new[] { baseline, target })
        {
            if (phase is null || phase.ServerCounters.Count == 0)
            {
                continue;
            }

            output.WriteLine();
            output.WriteLine(Invariant($"{phase.Name}: server counters over the measured window (per second):"));
            foreach (var (key, value) in phase.ServerCounters.OrderBy(c => c.Key, StringComparer.Ordinal))
            {
                output.WriteLine(Invariant($"  {key,-90} {value,14:N1} {value / phase.Seconds,12:N1}/s"));
            }
        }

        foreach (var phase in new[] { baseline, target })
        {
            if (phase is null || phase.Errors.Count == 0)
            {
                continue;
            }

            output.WriteLine();
            output.WriteLine(Invariant($"{phase.Name} errors ({phase.ErrorCount:N0}, {phase.ErrorCount / phase.Seconds:0.#}/s):"));
            foreach (var (key, count) in phase.Errors.OrderByDescending(e => e.Value))
            {
                output.WriteLine(Invariant($"  {key,-40} {count,10:N0}"));
            }
        }
    }

    public static void Memory(LoadOptions options, RunInfo run, MemoryResult memory, TextWriter output)
    {
        var perMillionHeap = memory.HeapSlopeBytesPerGrant * 1_000_000;
        var perMillionWs = memory.WorkingSetSlopeBytesPerGrant * 1_000_000;
        if (options.Json)
        {
            output.WriteLine(JsonSerializer.Serialize(new
            {
                mode = "memory",
                options.Concurrency,
                grantsTarget = options.Grants,
                options.ExpireShare,
                run.Server,
                run.Machine,
                loadAverageBefore = run.LoadBefore,
                loadAverageAfter = run.LoadAfter,
                memory,
                extrapolatedHeapGrowthPerMillionGrantsBytes = perMillionHeap,
                extrapolatedWorkingSetGrowthPerMillionGrantsBytes = perMillionWs,
            }, Json));
            return;
        }

        var last = memory.Samples[^1];
        output.WriteLine(Invariant($"TaskBudgets memory run: {last.GrantsIssued:N0} grants in {last.Seconds:0} s ({memory.GrantsPerSecond:N0}/s), {last.GrantsSettled:N0} settled, {last.GrantsLeftToExpire:N0} left to expire; {options.Concurrency} in flight"));
        output.WriteLine($"server: {run.Server}");
        output.WriteLine(Invariant($"machine: {run.Machine.Cores} cores ({run.Machine.Cpu}), {run.Machine.Memory}, {run.Machine.Runtime}; load average {run.LoadBefore} before, {run.LoadAfter} after"));
        output.WriteLine();
        output.WriteLine($"{"s",6} {"grants",10} {"settled",10} {"to expire",10} {"active",8} {"GC heap MiB",12} {"working set MiB",16} {"committed MiB",14}");
        foreach (var s in memory.Samples.Append(memory.AfterDrain).OfType<MemorySample>())
        {
            output.WriteLine(Invariant($"{s.Seconds,6:0} {s.GrantsIssued,10:N0} {s.GrantsSettled,10:N0} {s.GrantsLeftToExpire,10:N0} {s.ActiveReservations,8:N0} {s.GcHeapBytes / 1048576,12:0.0} {s.WorkingSetBytes / 1048576,16:0.0} {s.CommittedBytes / 1048576,14:0.0}"));
        }

        output.WriteLine();
        output.WriteLine(Invariant($"from {memory.MeasuredFromSeconds:0} s (after the warm-up; once the books were full if the run was long enough), over {memory.GrantsMeasured:N0} grants:"));
        output.WriteLine(Invariant($"  GC heap (after last GC): {memory.HeapStartBytes / 1048576:0.0} MiB (first fifth) -> {memory.HeapEndBytes / 1048576:0.0} MiB (last fifth); fitted {memory.HeapSlopeBytesPerGrant:0.00} B/grant = {perMillionHeap / 1048576:0.0} MiB per million grants"));
        output.WriteLine(Invariant($"  working set:             {memory.WorkingSetStartBytes / 1048576:0.0} MiB -> {memory.WorkingSetEndBytes / 1048576:0.0} MiB; fitted {memory.WorkingSetSlopeBytesPerGrant:0.00} B/grant = {perMillionWs / 1048576:0.0} MiB per million grants"));
        if (memory.AfterDrain is { } drained)
        {
            output.WriteLine(Invariant($"  after the grant TTL: {drained.ActiveReservations:N0} active reservations, GC heap {drained.GcHeapBytes / 1048576:0.0} MiB"));
        }
    }

    private static object Phase(PhaseResult p) => new
    {
        name = p.Name,
        ok = p.Ok,
        errors = p.Errors,
        seconds = p.Seconds,
        throughput = p.Throughput,
        latencyMs = Latency(p.Latency),
        stages = p.Stages.ToDictionary(s => s.Key, s => Latency(s.Value)),
        clientCores = p.ClientCpuSeconds / p.Seconds,
        clientCollectionsPerSecond = p.ClientCollections / p.Seconds,
        clientGcPauseMsPerSecond = 1000 * p.ClientGcPauseSeconds / p.Seconds,
        serverCores = p.ServerCpuSeconds / p.Seconds,
        serverMicrosPerOp = p.ServerCpuSeconds is { } cpu && p.Ok > 0 ? cpu * 1e6 / p.Ok : (double?)null,
        serverCounters = p.ServerCounters,
    };

    private static object Latency(LatencyHistogram h) => new
    {
        count = h.Count,
        mean = h.MeanMicros / 1000,
        p50 = h.Percentile(0.50) / 1000.0,
        p99 = h.Percentile(0.99) / 1000.0,
        p999 = h.Percentile(0.999) / 1000.0,
        max = h.MaxMicros / 1000.0,
    };

    private static void Row(TextWriter output, string name, PhaseResult? phase, LatencyHistogram h)
    {
        var rate = phase is null ? string.Empty : Invariant($"{phase.Throughput:N0}");
        var errors = phase is null ? string.Empty : Invariant($"{phase.ErrorCount:N0}");
        var client = phase is null ? string.Empty : Invariant($"{phase.ClientCpuSeconds / phase.Seconds:0.00}");
        var server = phase?.ServerCpuSeconds is { } s ? Invariant($"{s / phase.Seconds:0.00}") : string.Empty;
        var perOp = phase?.ServerCpuSeconds is { } c && phase.Ok > 0 ? Invariant($"{c * 1e6 / phase.Ok:0}") : string.Empty;
        output.WriteLine(Invariant($"{name,-12} {rate,10} {h.MeanMicros / 1000,8:0.000} {h.Percentile(0.50) / 1000.0,8:0.000} {h.Percentile(0.99) / 1000.0,8:0.000} {h.Percentile(0.999) / 1000.0,8:0.000} {h.MaxMicros / 1000.0,8:0.0} {errors,8} {client,12} {server,12} {perOp,12}"));
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
