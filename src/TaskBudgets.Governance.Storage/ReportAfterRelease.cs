namespace TaskBudgets.Governance.Storage;

/// <summary>
/// A report for a grant that was released first: the tokens were spent all the same, so it
/// counts (flagged late); a second release, or a second report, is a duplicate.
/// </summary>
public static class ReportAfterRelease
{
    /// <summary>Whether a settlement of kind <paramref name="incoming"/> counts after a stored one of kind <paramref name="stored"/>.</summary>
    public static bool Counts(SettlementKind incoming, SettlementKind stored) =>
        incoming == SettlementKind.Reported && stored == SettlementKind.Released;
}
