using BenchmarkDotNet.Attributes;
using TaskBudgets.Governance.Budgeting;
using TaskBudgets.Governance.Quotas;

namespace TaskBudgets.Benchmarks;

/// <summary>
/// The in-memory reservation a grant takes on each applicable quota window, and its release
/// (settlement, release or expiry). Uncontended: one lock taken and let go per call.
/// </summary>
[MemoryDiagnoser]
public class QuotaBucketBenchmarks
{
    private QuotaBucket bucket = null!;

    [GlobalSetup]
    public void Setup()
    {
        var quota = new QuotaDefinition
        {
            Id = "demo:reasoning_tokens:day",
            OrgId = "demo",
            Scope = QuotaScope.Org,
            Metric = QuotaMetric.ReasoningTokens,
            Window = WindowKind.Day,
            Limit = long.MaxValue / 4,
        };
        var start = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
        bucket = new QuotaBucket(quota, string.Empty, start, "replica/demo:reasoning_tokens:day/0");
        bucket.AddLeased(long.MaxValue / 8);
        bucket.Declared(bucket.BeginDeclaration(0, long.MaxValue));
    }

    [Benchmark]
    public bool TryReserveThenRelease()
    {
        var reserved = bucket.TryReserve(2_048);
        bucket.Release(2_048, leavesHold: 0);
        return reserved;
    }

    [Benchmark]
    public QuotaHeadroom Headroom() => bucket.Headroom();
}
