using TaskBudgets.Governance.Storage;

namespace TaskBudgets.Governance.Grants;

/// <summary>How a settlement meets an earlier one of the same grant.</summary>
public static class SettlementRules
{
    /// <summary>
    /// The kind of earlier settlement after which one of <paramref name="incoming"/> kind still
    /// counts, or null when any earlier one makes it a duplicate. A report for a grant that was
    /// released first counts (flagged late): the tokens were spent all the same. A second release,
    /// or a second report, is a duplicate.
    /// </summary>
    public static SettlementKind? CountsAfter(SettlementKind incoming) =>
        incoming == SettlementKind.Reported ? SettlementKind.Released : null;
}
