namespace TaskBudgets.Governance.Storage;

public enum SettlementKind
{
    Reported = 1,
    Released = 2,
}

/// <summary>Usage to debit from one quota window, and from the lease its grant was reserved on.</summary>
/// <param name="LeaseId">
/// The lease the grant reserved on; null for a report without a grant, and for one settled too late
/// to touch its lease (its issuer may have freed the reservation already), which only counts.
/// </param>
/// <param name="ByOwner">The settling replica owns that lease.</param>
/// <param name="LeavesHold">How much the lease's declared hold shrinks (see <c>GrantEnding</c>).</param>
public readonly record struct QuotaDebit(string CounterKey, long WindowStart, string? LeaseId, bool ByOwner, long Amount, long LeavesHold = 0);

/// <summary>A settlement to commit: the row to write (its id makes it once-only) and what to debit.</summary>
/// <param name="TaskId">The agentic loop the call belonged to, whose task budget it uses; empty for none.</param>
/// <param name="Notice">For a grant issued by another replica, the notice that tells its issuer to free it.</param>
/// <param name="CountsAfter">
/// The kind of an already stored settlement of the same id after which this one still counts, its
/// usage copied in and the row flagged late (no lease touched: the first ended the reservation);
/// null when any stored one makes this a duplicate. The caller's rule, not storage's.
/// </param>
public sealed record SettlementCommand(
    SettlementKind Kind,
    Settlement Row,
    IReadOnlyList<QuotaDebit> Debits,
    string TaskId = "",
    GrantNotice? Notice = null,
    SettlementKind? CountsAfter = null);

/// <summary>What was committed: the stored row (the first one, for a duplicate) and which lease debits applied.</summary>
public sealed record SettlementOutcome(Settlement Row, bool Duplicate, bool[] LeaseDebited);
