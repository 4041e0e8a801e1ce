using System.Globalization;
using System.Text.Json;

namespace TaskBudgets.LoadTest;

/// <summary>Where and how a run ran.</summary>
internal sealed record RunInfo(string Server, Machine Machine, string LoadBefore, string LoadAfter, IReadOnlyDictionary<string, long> BaselineAnswers);

/// <summary>Prints a run's results: a table for people, or one JSON document (--json).</summary>
internal static class Report
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    /// <summary>Targets against the bare server: the health check (the pipeline's cost) and GetBudget.</summary>
    private const double HealthThroughputTarget = 0.9;
    private const double ThroughputTarget = 0.75;
    private const double P99Target = 1.5;
    private const double CpuTarget = 1.6;

    /// <summary>Full cycles a second, on PostgreSQL and on SQLite.</summary>
    private const double CycleTarget = 10_000;

    /// <param name="phases">Each phase merged over the rounds, in the order run; the target is the last.</param>
    /// <param name="rounds">Each round's own phases, by name.</param>
    public static void Phases(LoadOptions options, RunInfo run, IReadOnlyList<PhaseResult> phases, IReadOnlyList<IReadOnlyDictionary<string, PhaseResult>> rounds, TextWriter output)
    {
        var target = phases[^1];
        var bare = phases.FirstOrDefault(p => p.Name == "bare");
        var health = phases.FirstOrDefault(p => p.Name == "health");
        var comparisons = new List<(PhaseResult Phase, PhaseResult Against)>();
        if (bare is not null)
        {
            comparisons.AddRange(phases.Where(p => p != bare).Select(p => (p, bare)));
        }

        if (health is not null)
        {
            comparisons.Add((target, health));
        }

        var ratios = comparisons.Select(c => new
        {
            phase = c.Phase.Name,
            against = c.Against.Name,
            throughput = Ratio(c.Phase.Throughput, c.Against.Throughput),
            p99 = Ratio(c.Phase.Latency.Percentile(0.99), c.Against.Latency.Percentile(0.99)),
            cpuPerOp = Ratio(PerOp(c.Phase), PerOp(c.Against)),
            throughputByRound = rounds.Select(r => Ratio(r[c.Phase.Name].Throughput, r[c.Against.Name].Throughput)).ToList(),
            cpuPerOpByRound = rounds.Select(r => Ratio(PerOp(r[c.Phase.Name]), PerOp(r[c.Against.Name]))).ToList(),
        }).ToList();
        var targets = Targets(options, target, bare, health);
        if (options.Json)
        {
            output.WriteLine(JsonSerializer.Serialize(new
            {
                mode = options.Mode.ToString().ToLowerInvariant(),
                options.Concurrency,
                options.Connections,
                durationSeconds = options.MeasuredDuration.TotalSeconds,
                warmupSeconds = options.WarmupTime.TotalSeconds,
                roundWarmupSeconds = options.RoundWarmupTime.TotalSeconds,
                options.Rounds,
                orgs = options.OrgIdList.Count,
                options.Principals,
                taskMix = string.Join(',', options.TaskMix.Select(m => $"{m.TaskType}:{m.Weight}")),
                run.Server,
                run.Machine,
                loadAverageBefore = run.LoadBefore,
                loadAverageAfter = run.LoadAfter,
                baselineAnswers = run.BaselineAnswers,
                phases = phases.Select(Phase).ToList(),
                ratios,
                targets = targets.Select(t => new { t.What, t.Met }).ToList(),
            }, Json));
            return;
        }

        output.WriteLine(Invariant($"TaskBudgets load test: mode {options.Mode.ToString().ToLowerInvariant()}, {options.Concurrency} in flight over {options.Connections} HTTP/2 connections, {options.MeasuredDuration.TotalSeconds:0.#} s measured after {options.WarmupTime.TotalSeconds:0.#} s warm-up ({options.RoundWarmupTime.TotalSeconds:0.#} s in later rounds), {options.Rounds} round(s)"));
        output.WriteLine(Invariant($"workload: {options.OrgIdList.Count} orgs x {options.Principals} principals, task mix {string.Join(',', options.TaskMix.Select(m => $"{m.TaskType}:{m.Weight}"))}, model {options.Model}"));
        output.WriteLine($"server: {run.Server}");
        output.WriteLine(Invariant($"machine: {run.Machine.Cores} cores ({run.Machine.Cpu}), {run.Machine.Memory}, {run.Machine.Runtime}; load generator on the same machine; load average {run.LoadBefore} before, {run.LoadAfter} after"));
        output.WriteLine();
        output.WriteLine($"{"phase",-12} {"ok/s",10} {"mean ms",8} {"p50 ms",8} {"p99 ms",8} {"p999 ms",8} {"max ms",8} {"errors",8} {"client cores",12} {"server cores",12} {"server µs/op",12}");
        foreach (var phase in phases)
        {
            Row(output, phase.Name, phase, phase.Latency);
        }

        foreach (var (stage, histogram) in target.Stages.OrderBy(s => s.Key, StringComparer.Ordinal))
        {
            Row(output, "  " + stage, null, histogram);
        }

        if (ratios.Count > 0)
        {
            output.WriteLine();
            foreach (var r in ratios)
            {
                output.WriteLine(Invariant($"{r.phase} / {r.against}: throughput {r.throughput:0.00}x, p99 {r.p99:0.00}x, server CPU a call {r.cpuPerOp:0.00}x"));
                if (rounds.Count > 1)
                {
                    // How far rounds of one run spread says how much one ratio can be trusted.
                    output.WriteLine(Invariant($"  by round: throughput {string.Join(", ", r.throughputByRound.Select(x => Invariant($"{x:0.00}x")))}; CPU a call {string.Join(", ", r.cpuPerOpByRound.Select(x => Invariant($"{x:0.00}x")))}"));
                }
            }
        }

        if (targets.Count > 0)
        {
            output.WriteLine();
            output.WriteLine("targets: " + string.Join("; ", targets.Select(t => $"{t.What}: {(t.Met ? "met" : "MISSED")}")));
        }

        if (health is not null && run.BaselineAnswers.Keys.Any(k => k != "Serving"))
        {
            output.WriteLine();
            output.WriteLine("health answers: " + string.Join(", ", run.BaselineAnswers.Select(a => Invariant($"{a.Key} {a.Value:N0}"))) + " (timed all the same: the round trip is the baseline)");
        }

        output.WriteLine();
        foreach (var phase in phases)
        {
            // The generator shares the machine: what its own GC costs is taken from the server.
            output.WriteLine(Invariant($"{phase.Name}: the load generator's GC made {phase.ClientCollections / phase.Seconds:N1} collections a second and paused it {1000 * phase.ClientGcPauseSeconds / phase.Seconds:N0} ms a second"));
        }

        foreach (var phase in phases)
        {
            if (phase.ServerCounters.Count <= 1)
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

        foreach (var phase in phases)
        {
            if (phase.Errors.Count == 0)
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

    private static List<(string What, bool Met)> Targets(LoadOptions options, PhaseResult target, PhaseResult? bare, PhaseResult? health)
    {
        var targets = new List<(string What, bool Met)>();
        if (options.Mode == LoadMode.Cycle)
        {
            targets.Add((Invariant($"cycles >= {CycleTarget:N0}/s ({target.Throughput:N0}/s, {PerOp(target):0} µs of server CPU a cycle)"), target.Throughput >= CycleTarget));
            return targets;
        }

        if (bare is null)
        {
            return targets;
        }

        if (health is not null)
        {
            targets.Add((Invariant($"health >= {HealthThroughputTarget}x bare"), Ratio(health.Throughput, bare.Throughput) >= HealthThroughputTarget));
        }

        targets.Add((Invariant($"{target.Name} >= {ThroughputTarget}x bare"), Ratio(target.Throughput, bare.Throughput) >= ThroughputTarget));
        targets.Add((Invariant($"{target.Name} p99 <= {P99Target}x bare"), Ratio(target.Latency.Percentile(0.99), bare.Latency.Percentile(0.99)) <= P99Target));
        targets.Add((Invariant($"{target.Name} CPU a call <= {CpuTarget}x bare"), Ratio(PerOp(target), PerOp(bare)) <= CpuTarget));
        return targets;
    }

    /// <summary>The server's CPU time per successful operation, in µs (null when unknown).</summary>
    private static double? PerOp(PhaseResult p) => p.ServerCpuSeconds is { } cpu && p.Ok > 0 ? cpu * 1e6 / p.Ok : null;

    /// <summary>a / b, or null when either is unknown or b is 0 (JSON has no NaN).</summary>
    private static double? Ratio(double? a, double? b) => a is { } x && b is { } y && y > 0 ? x / y : null;

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
