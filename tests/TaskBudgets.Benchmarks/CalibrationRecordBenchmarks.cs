using System.Diagnostics.Metrics;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using TaskBudgets.Governance.Adaptive;
using TaskBudgets.Governance.Budgeting.Calibration;
using TaskBudgets.Governance.Policies;
using TaskBudgets.Governance.Telemetry;
using TaskBudgets.Policies;

namespace TaskBudgets.Benchmarks;

/// <summary>
/// What a settled call costs the calibration (CalibrationBook.Record, on every ReportUsage): counting
/// it, with and without the change test against the snapshot in force. Both 0 B allocated.
/// </summary>
[MemoryDiagnoser]
public class CalibrationRecordBenchmarks
{
    private static readonly DateTimeOffset Now = new(2026, 3, 10, 12, 0, 0, TimeSpan.Zero);

    private readonly CalibrationSample[] samples = new CalibrationSample[1024];
    private CalibrationBook detecting = null!;
    private CalibrationBook counting = null!;
    private ServiceProvider services = null!;
    private int next;

    [GlobalSetup]
    public void Setup()
    {
        var policy = PolicyDocument.Parse("""
            models: []
            tiers:
              - name: t
                target_truncation_rate: 0.05
                rules:
                  - task_type: "*"
                    min_reasoning_tokens: 0
                    default_reasoning_tokens: 1000
                    max_reasoning_tokens: 100000
                    max_output_tokens: 200000
                  - task_type: work
                    min_reasoning_tokens: 100
                    default_reasoning_tokens: 8000
                    max_reasoning_tokens: 100000
                    max_output_tokens: 200000
                    adaptive: true
                    min_samples: 200
            orgs: []
            """).ToSnapshot(1);
        var random = new Random(3);
        for (var i = 0; i < samples.Length; i++)
        {
            var need = (long)(2_000 * Math.Exp(0.7 * (random.NextDouble() + random.NextDouble() + random.NextDouble() - 1.5) * 2));
            samples[i] = new CalibrationSample(Math.Min(need, 6_000), Math.Min(need, 6_000) + 100, 6_000, need > 6_000, false, null);
        }

        var stats = new CalibrationStats(Now.ToUnixTimeMilliseconds());
        for (var i = 0; i < 5_000; i++)
        {
            stats.Add(samples[i % samples.Length], Now.ToUnixTimeMilliseconds(), TimeSpan.FromDays(1));
        }

        var snapshot = CalibrationSnapshot.Build(policy.Version, policy.Tiers, new Dictionary<CalibrationKey, CalibrationStats> { [new("t", "work", "")] = stats }, Now, CalibrationSettings.Default);
        services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var metrics = new GovernanceMetrics(services.GetRequiredService<IMeterFactory>(), Options.Create(new TelemetryOptions()));
        detecting = Book(true, metrics, snapshot);
        counting = Book(false, metrics, snapshot);
    }

    [GlobalCleanup]
    public void Cleanup() => services.Dispose();

    [Benchmark(Baseline = true)]
    public void Count() => counting.Record("t", "work", string.Empty, samples[next++ & 1023]);

    [Benchmark]
    public void CountAndTest() => detecting.Record("t", "work", string.Empty, samples[next++ & 1023]);

    private static CalibrationBook Book(bool detectChanges, GovernanceMetrics metrics, CalibrationSnapshot snapshot)
    {
        var book = new CalibrationBook(Options.Create(new CalibrationOptions { PerOrg = false, DetectChanges = detectChanges }), TimeProvider.System, metrics);
        book.Publish(snapshot);
        return book;
    }
}
