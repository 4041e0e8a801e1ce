using TaskBudgets.Governance.Grants;
using TaskBudgets.Governance.Storage;

namespace TaskBudgets.Governance.Tests.Grants;

public sealed class SettlementRulesTests
{
    [Theory]
    [InlineData(SettlementKind.Reported, SettlementKind.Released, true)]
    [InlineData(SettlementKind.Reported, SettlementKind.Reported, false)]
    [InlineData(SettlementKind.Released, SettlementKind.Released, false)]
    [InlineData(SettlementKind.Released, SettlementKind.Reported, false)]
    public void Only_a_report_after_a_release_still_counts(SettlementKind incoming, SettlementKind stored, bool counts)
    {
        Assert.Equal(counts, SettlementRules.CountsAfter(incoming) == stored);
    }
}
