using System.Diagnostics;
using System.Text.Json;

namespace TaskBudgets.Governance.Tests.Processes;

/// <summary>
/// The load generator (tests/TaskBudgets.LoadTest) as anyone runs it, in short runs: it starts its
/// own server, drives it, and reports throughput, latency, errors, the bare and health baselines and the ratios.
/// What its figures are worth is for docs/performance.md; here, that it measures at all.
/// </summary>
public sealed class LoadGeneratorTests
{
    [Fact]
    public async Task A_budget_run_reports_bare_health_and_GetBudget_with_server_CPU_and_the_ratios_of_each_round()
    {
        var (exit, report, progress) = await RunAsync("--start-server", "sqlite", "--mode", "budget", "--baseline", "--rounds", "2", "--concurrency", "8", "--orgs", "2", "--warmup", "3s", "--round-warmup", "1s", "--duration", "2s", "--json");

        Assert.True(exit == 0, $"exit {exit}:\n{progress}");
        var root = report.RootElement;
        var phases = root.GetProperty("phases").EnumerateArray().ToList();
        Assert.Equal(["bare", "health", "GetBudget"], phases.Select(p => p.GetProperty("name").GetString()));
        foreach (var phase in phases)
        {
            Assert.True(phase.GetProperty("ok").GetInt64() > 0, phase.ToString());
            Assert.Empty(phase.GetProperty("errors").EnumerateObject());
            var latency = phase.GetProperty("latencyMs");
            Assert.InRange(latency.GetProperty("p50").GetDouble(), 0.001, latency.GetProperty("p99").GetDouble());
            Assert.True(latency.GetProperty("p999").GetDouble() >= latency.GetProperty("p99").GetDouble());

            // The server's CPU comes from its /metrics (the started server's HTTP port was found),
            // the bare server's from its process.
            Assert.True(phase.GetProperty("serverMicrosPerOp").GetDouble() > 0, phase.ToString());
        }

        var getBudget = root.GetProperty("ratios").EnumerateArray().Single(r => r.GetProperty("phase").GetString() == "GetBudget" && r.GetProperty("against").GetString() == "bare");
        var expected = phases[2].GetProperty("throughput").GetDouble() / phases[0].GetProperty("throughput").GetDouble();
        Assert.Equal(expected, getBudget.GetProperty("throughput").GetDouble(), 6);
        var cpu = phases[2].GetProperty("serverMicrosPerOp").GetDouble() / phases[0].GetProperty("serverMicrosPerOp").GetDouble();
        Assert.Equal(cpu, getBudget.GetProperty("cpuPerOp").GetDouble(), 6);
        Assert.Equal(2, getBudget.GetProperty("throughputByRound").GetArrayLength());
        Assert.Equal(2, getBudget.GetProperty("cpuPerOpByRound").GetArrayLength());
        Assert.Equal(4, root.GetProperty("targets").GetArrayLength());
        Assert.Contains("server ready", progress, StringComparison.Ordinal);
        Assert.Contains("bare server ready", progress, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_cycle_run_on_a_throwaway_postgresql_settles_every_grant_it_gets()
    {
        // A cold server's first cycles on a busy machine take seconds (JIT, first leases): a warm-up
        // of 3 s. fsync off: this checks that cycles flow, not how fast the disk is.
        var (exit, report, progress) = await RunAsync("--start-server", "postgresql", "--pg-fsync", "off", "--mode", "cycle", "--concurrency", "8", "--orgs", "2", "--warmup", "3s", "--duration", "2s", "--json");

        Assert.True(exit == 0, $"exit {exit}:\n{progress}");
        var cycle = Assert.Single(report.RootElement.GetProperty("phases").EnumerateArray());
        Assert.Equal("cycle", cycle.GetProperty("name").GetString());
        Assert.True(cycle.GetProperty("ok").GetInt64() > 0, cycle.ToString());
        Assert.Empty(cycle.GetProperty("errors").EnumerateObject());
        Assert.Contains("PostgreSQL", report.RootElement.GetProperty("server").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_memory_run_samples_the_server_and_sees_every_grant_settled_or_expired_and_evicted()
    {
        var (exit, report, progress) = await RunAsync("--start-server", "sqlite", "--mode", "memory", "--grants", "2000", "--grant-ttl", "2s", "--sample-interval", "1s", "--concurrency", "8", "--json");

        Assert.True(exit == 0, $"exit {exit}:\n{progress}");
        var memory = report.RootElement.GetProperty("memory");
        Assert.True(memory.GetProperty("samples").GetArrayLength() >= 2, memory.ToString());
        var drained = memory.GetProperty("afterDrain");
        Assert.True(drained.GetProperty("grantsIssued").GetInt64() >= 2000);
        Assert.True(drained.GetProperty("grantsLeftToExpire").GetInt64() > 0);
        Assert.True(drained.GetProperty("gcHeapBytes").GetInt64() > 0);

        // Read from the server's own gauge after the grant TTL: nothing settled or expired is still held.
        Assert.Equal(0, drained.GetProperty("activeReservations").GetInt64());
    }

    [Fact]
    public async Task A_server_that_will_not_start_is_one_line_with_its_reason_and_exit_code_1()
    {
        var (exit, _, progress) = await RunAsync("--start-server", "sqlite", "--server-arg", "Leases:RenewParallelism=0", "--warmup", "1s", "--duration", "1s");

        Assert.Equal(1, exit);
        Assert.Contains("could not start the server: the server exited with 1", progress, StringComparison.Ordinal);
        Assert.Contains("Configuration error:", progress, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", progress, StringComparison.Ordinal);
    }

    private static async Task<(int Exit, JsonDocument Report, string Progress)> RunAsync(params string[] args)
    {
        var dll = Path.Combine(Repository.Root, "tests", "TaskBudgets.LoadTest", "bin", Repository.Configuration, "net10.0", "TaskBudgets.LoadTest.dll");
        Assert.True(File.Exists(dll), $"build the solution first: {dll} is missing");
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add(dll);
        info.ArgumentList.Add("--server-dll");
        info.ArgumentList.Add(LocalServer.BuiltAssembly(Repository.Configuration));
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            // Not left running (with its server) after the test gives up on it.
            process.Kill(entireProcessTree: true);
            throw;
        }

        var output = await stdout;
        return (process.ExitCode, output.TrimStart().StartsWith('{') ? JsonDocument.Parse(output) : JsonDocument.Parse("{}"), await stderr + output);
    }
}
