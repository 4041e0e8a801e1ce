using TaskBudgets.Governance.Budgeting;

namespace TaskBudgets.Governance.Telemetry;

/// <summary>
/// What GetBudget and ReportUsage count for one tier and rule task type: plain fields added to
/// with <see cref="Interlocked"/> and read by observable counters when Prometheus scrapes.
/// </summary>
/// <remarks>
/// <c>Counter.Add</c> looks its label set up on every call, and a grant or a report counts several
/// series. Here a call finds its counts once, by tier and task type.
/// </remarks>
internal sealed class RuleCounts(string tier, string taskType)
{
    public const int DecisionGranted = 0;
    public const int DecisionReduced = 1;
    public const int DecisionDenied = 2;

    private const int Decisions = 3;

    // By model family (1..3) and decision; row 0 is unused so a family indexes it directly.
    private readonly long[] grants = new long[(Families.Max(f => (int)f) + 1) * Decisions];

    public static IReadOnlyList<ModelFamily> Families { get; } = Enum.GetValues<ModelFamily>();

    public string Tier { get; } = tier;

    public string TaskType { get; } = taskType;

    public long ReasoningGranted;
    public long OutputGranted;

    public long InputUsed;
    public long CachedInputUsed;
    public long CacheWriteInputUsed;
    public long OutputUsed;
    public long ReasoningUsed;
    public long Truncations;
    public long OverGrantCalls;
    public long LateReports;

    public void CountGrant(ModelFamily family, int decision) => Interlocked.Increment(ref grants[((int)family * Decisions) + decision]);

    public long Grants(ModelFamily family, int decision) => Volatile.Read(ref grants[((int)family * Decisions) + decision]);

    /// <summary>Whether any grant (not a denial) was counted: its token counters are shown from then on.</summary>
    public bool HasGranted => Families.Any(f => Grants(f, DecisionGranted) + Grants(f, DecisionReduced) > 0);
}
