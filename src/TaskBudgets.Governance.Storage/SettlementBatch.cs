using System.Runtime.InteropServices;

namespace TaskBudgets.Governance.Storage;

/// <summary>
/// What one group commit must change, summed per row: one lease update per lease, one counter
/// update per quota window, one task-budget update per agentic loop, instead of one per debit.
/// Each list is sorted, and every writer takes rows in that order (leases, then counters, then
/// task budgets), so batches on different replicas and lease changes cannot deadlock.
/// </summary>
/// <remarks>
/// Summing lease debits is safe: amounts are never negative and the batch has one clock, so if a
/// lease's balance covers the sum it would have covered each debit in turn. When it does not,
/// the writer falls back to that lease's debits one by one in batch order (<see cref="LeaseDebits.Items"/>),
/// which is exactly what debiting them one by one would have done.
/// </remarks>
/// <param name="expectedDebits">How many debits the batch will hold, so its list does not grow in steps.</param>
public sealed class SettlementBatch(int expectedDebits = 0)
{
    // Hashed while the batch fills (a few debits a report, each looked up once) and sorted once at
    // the end: a sorted tree compared long, shared-prefix ids on every lookup.
    private readonly Dictionary<string, LeaseDebits> leases = new(StringComparer.Ordinal);
    private readonly List<DebitSlot> debits = new(expectedDebits);
    private readonly SortedDictionary<(string OrgId, string TaskId), long> taskUses = new(OrdinalPairComparer.Instance);

    /// <summary>The leases to debit, sorted by id: a new array on each call, so read it once a batch.</summary>
    public LeaseDebits[] LeasesInOrder()
    {
        var sorted = new LeaseDebits[leases.Count];
        leases.Values.CopyTo(sorted, 0);
        Array.Sort(sorted, static (a, b) => string.CompareOrdinal(a.LeaseId, b.LeaseId));
        return sorted;
    }

    /// <summary>Output tokens each agentic loop used in this batch, sorted by (org, task).</summary>
    public IReadOnlyDictionary<(string OrgId, string TaskId), long> TaskUses => taskUses;

    /// <summary>
    /// Adds a settlement's debits; <paramref name="debited"/>[i] says later whether debit i applied
    /// to its lease. A release only lowers its leases' holds; a report also counts its usage.
    /// </summary>
    /// <param name="touchesLeases">False for a report that follows its grant's release: the release ended the reservation, so it only counts.</param>
    public void Add(SettlementCommand command, bool[] debited, bool touchesLeases = true)
    {
        ArgumentNullException.ThrowIfNull(command);
        ArgumentNullException.ThrowIfNull(debited);
        for (var i = 0; i < command.Debits.Count; i++)
        {
            var debit = command.Debits[i];
            var slot = new DebitSlot(debit, debited, i);
            if (command.Kind == SettlementKind.Reported)
            {
                debits.Add(slot);
            }

            // A debit of nothing that leaves no hold, or without a lease (a report without a grant, or too late), only counts.
            if (!touchesLeases || debit.LeaseId is not { } leaseId || (debit.Amount <= 0 && debit.LeavesHold <= 0))
            {
                continue;
            }

            if (!leases.TryGetValue(leaseId, out var lease))
            {
                lease = new LeaseDebits(leaseId);
                leases.Add(leaseId, lease);
            }

            lease.Add(slot);
        }

        if (command.TaskId.Length > 0)
        {
            var key = (command.Row.OrgId, command.TaskId);
            taskUses[key] = taskUses.GetValueOrDefault(key) + command.Row.OutputTokens;
        }
    }

    /// <summary>
    /// What each quota window's counter gains in use and loses in leased capacity, sorted by
    /// (counter, window). Read it after the lease debits are marked.
    /// </summary>
    public KeyValuePair<(string CounterKey, long WindowStart), CounterDelta>[] CounterDeltas()
    {
        var counters = new Dictionary<(string, long), CounterDelta>(OrdinalCounterKey.Instance);
        foreach (var slot in debits)
        {
            ref var delta = ref CollectionsMarshal.GetValueRefOrAddDefault(counters, (slot.Debit.CounterKey, slot.Debit.WindowStart), out _);
            delta = new CounterDelta(delta.Consumed + slot.Debit.Amount, delta.Leased + (slot.Debited ? slot.Debit.Amount : 0));
        }

        var sorted = counters.ToArray();
        Array.Sort(sorted, static (a, b) => OrdinalCounterKey.Instance.Compare(a.Key, b.Key));
        return sorted;
    }

    private sealed class OrdinalPairComparer : IComparer<(string, string)>
    {
        public static readonly OrdinalPairComparer Instance = new();

        public int Compare((string, string) x, (string, string) y) =>
            string.CompareOrdinal(x.Item1, y.Item1) is var c and not 0 ? c : string.CompareOrdinal(x.Item2, y.Item2);
    }

    private sealed class OrdinalCounterKey : IComparer<(string, long)>, IEqualityComparer<(string, long)>
    {
        public static readonly OrdinalCounterKey Instance = new();

        public int Compare((string, long) x, (string, long) y) =>
            string.CompareOrdinal(x.Item1, y.Item1) is var c and not 0 ? c : x.Item2.CompareTo(y.Item2);

        public bool Equals((string, long) x, (string, long) y) => x.Item2 == y.Item2 && string.Equals(x.Item1, y.Item1, StringComparison.Ordinal);

        public int GetHashCode((string, long) obj) => HashCode.Combine(StringComparer.Ordinal.GetHashCode(obj.Item1), obj.Item2);
    }
}

/// <summary>One report's debit of one quota, and where to mark whether its lease took it.</summary>
public readonly record struct DebitSlot(QuotaDebit Debit, bool[] Outcomes, int Index)
{
    public bool Debited
    {
        get => Outcomes[Index];
        set => Outcomes[Index] = value;
    }
}

/// <summary>Usage settled on a counter in one batch, and how much of it came out of leases.</summary>
public readonly record struct CounterDelta(long Consumed, long Leased);

/// <summary>All of one batch's debits of one lease, summed by who settles them.</summary>
public sealed class LeaseDebits(string leaseId)
{
    private readonly List<DebitSlot> items = [];

    public string LeaseId { get; } = leaseId;

    /// <summary>Debited by the replica that owns the lease.</summary>
    public long ByOwner { get; private set; }

    /// <summary>Debited by this replica on another replica's lease.</summary>
    public long ByOthers { get; private set; }

    /// <summary>How much the lease's declared hold shrinks.</summary>
    public long LeavesHold { get; private set; }

    /// <summary>The debits in batch order: the fallback applies them one by one in this order.</summary>
    public IReadOnlyList<DebitSlot> Items => items;

    /// <summary>The lease took the whole sum: every debit applied.</summary>
    public void MarkAllDebited()
    {
        foreach (var item in items)
        {
            item.Debited = true;
        }
    }

    internal void Add(DebitSlot slot)
    {
        items.Add(slot);
        LeavesHold += slot.Debit.LeavesHold;
        if (slot.Debit.ByOwner)
        {
            ByOwner += slot.Debit.Amount;
        }
        else
        {
            ByOthers += slot.Debit.Amount;
        }
    }
}
