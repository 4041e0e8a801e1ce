using TaskBudgets.Governance.Storage;

namespace TaskBudgets.Governance.Tests.Quotas;

public class SettlementBatchTests
{
    private static SettlementCommand Report(string id, string org, params QuotaDebit[] debits) =>
        new(SettlementKind.Reported, new Settlement { Id = id, OrgId = org }, debits);

    [Fact]
    public void Debits_of_one_lease_are_summed_into_one_update_per_lease_sorted_by_id()
    {
        var batch = new SettlementBatch();
        batch.Add(Report("a", "o", new QuotaDebit("k2", 60, "r1/k2/60", true, 10), new QuotaDebit("k1", 60, "r1/k1/60", true, 1)), new bool[2]);
        batch.Add(Report("b", "o", new QuotaDebit("k2", 60, "r1/k2/60", true, 5), new QuotaDebit("k1", 60, "r1/k1/60", true, 1)), new bool[2]);
        batch.Add(Report("c", "o", new QuotaDebit("k2", 60, "r2/k2/60", false, 7)), new bool[1]);

        var leases = batch.LeasesInOrder().ToList();

        Assert.Equal(["r1/k1/60", "r1/k2/60", "r2/k2/60"], leases.Select(l => l.LeaseId));
        Assert.Equal((2L, 0L), (leases[0].ByOwner, leases[0].ByOthers));
        Assert.Equal((15L, 0L), (leases[1].ByOwner, leases[1].ByOthers));
        Assert.Equal((0L, 7L), (leases[2].ByOwner, leases[2].ByOthers));
    }

    [Fact]
    public void The_fallback_sees_a_leases_debits_in_batch_order()
    {
        var batch = new SettlementBatch();
        batch.Add(Report("a", "o", new QuotaDebit("k", 0, "L", true, 30)), new bool[1]);
        batch.Add(Report("b", "o", new QuotaDebit("k", 0, "L", true, 20)), new bool[1]);
        batch.Add(Report("c", "o", new QuotaDebit("k", 0, "L", true, 10)), new bool[1]);

        Assert.Equal([30L, 20L, 10L], batch.LeasesInOrder().Single().Items.Select(i => i.Debit.Amount));
    }

    [Fact]
    public void Debits_without_a_lease_or_of_nothing_count_on_the_counter_but_never_touch_a_lease()
    {
        var batch = new SettlementBatch();
        var first = new bool[2];
        batch.Add(Report("a", "o", new QuotaDebit("k", 0, null, false, 9), new QuotaDebit("k", 0, "L", true, 0)), first);

        Assert.Empty(batch.LeasesInOrder());
        var counter = Assert.Single(batch.CounterDeltas());
        Assert.Equal(new CounterDelta(9, 0), counter.Value);
        Assert.Equal([false, false], first);
    }

    [Fact]
    public void Counters_take_all_use_but_give_back_leased_capacity_only_for_debits_their_lease_took()
    {
        var batch = new SettlementBatch();
        var a = new bool[2];
        var b = new bool[1];
        batch.Add(Report("a", "o", new QuotaDebit("k", 0, "L1", true, 100), new QuotaDebit("q", 0, "L2", true, 3)), a);
        batch.Add(Report("b", "o", new QuotaDebit("k", 0, "L3", false, 50)), b);

        foreach (var lease in batch.LeasesInOrder().Where(l => l.LeaseId != "L3"))
        {
            lease.MarkAllDebited();
        }

        Assert.Equal([true, true], a);
        Assert.Equal([false], b);
        var counters = batch.CounterDeltas();
        Assert.Equal([("k", 0L), ("q", 0L)], counters.Select(c => c.Key));
        Assert.Equal(new CounterDelta(150, 100), counters[0].Value);
        Assert.Equal(new CounterDelta(3, 3), counters[1].Value);
    }

    [Fact]
    public void Counters_are_summed_per_window_and_sorted_by_key_then_window()
    {
        var batch = new SettlementBatch();
        batch.Add(Report("a", "o", new QuotaDebit("q", 120, null, false, 1), new QuotaDebit("k", 60, null, false, 2), new QuotaDebit("q", 60, null, false, 4)), new bool[3]);
        batch.Add(Report("b", "o", new QuotaDebit("k", 60, null, false, 8), new QuotaDebit("k:", 0, null, false, 16)), new bool[2]);

        Assert.Equal(
            [(("k", 60L), 10L), (("k:", 0L), 16L), (("q", 60L), 4L), (("q", 120L), 1L)],
            batch.CounterDeltas().Select(c => (c.Key, c.Value.Consumed)));
    }

    [Fact]
    public void Task_budgets_are_summed_per_loop_and_sorted()
    {
        var batch = new SettlementBatch();
        batch.Add(new SettlementCommand(SettlementKind.Reported, new Settlement { Id = "1", OrgId = "o2", OutputTokens = 5 }, [], "t"), []);
        batch.Add(new SettlementCommand(SettlementKind.Reported, new Settlement { Id = "2", OrgId = "o1", OutputTokens = 7 }, [], "t"), []);
        batch.Add(new SettlementCommand(SettlementKind.Reported, new Settlement { Id = "3", OrgId = "o2", OutputTokens = 11 }, [], "t"), []);
        batch.Add(new SettlementCommand(SettlementKind.Reported, new Settlement { Id = "4", OrgId = "o2", OutputTokens = 13 }, []), []);

        Assert.Equal([(("o1", "t"), 7L), (("o2", "t"), 16L)], batch.TaskUses.Select(kv => (kv.Key, kv.Value)));
    }
}
