using TaskBudgets.Governance.Grants;
using TaskBudgets.Governance.Quotas;

namespace TaskBudgets.Governance.Tests.Quotas;

public sealed class GrantIdsTests
{
    [Fact]
    public void Ids_sort_by_the_millisecond_they_were_issued_in()
    {
        var start = DateTimeOffset.Parse("2026-11-29T10:00:00Z", System.Globalization.CultureInfo.InvariantCulture);
        var hex = Enumerable.Range(0, 2_000)
            .Select(i => Convert.ToHexStringLower(GrantIds.Next(start.AddMilliseconds(i / 4))))
            .ToList();

        // Settlement keys are these hex strings: in issue order, up to ties within a millisecond.
        for (var i = 4; i < hex.Count; i += 4)
        {
            Assert.True(string.CompareOrdinal(hex[i - 1], hex[i]) < 0, $"{hex[i - 1]} !< {hex[i]}");
        }

        Assert.StartsWith(start.ToUnixTimeMilliseconds().ToString("x12", System.Globalization.CultureInfo.InvariantCulture), hex[0], StringComparison.Ordinal);
    }

    [Fact]
    public void Ids_issued_in_the_same_millisecond_differ_in_their_random_part()
    {
        var at = DateTimeOffset.UnixEpoch.AddYears(56);
        var ids = Enumerable.Range(0, 10_000).Select(_ => Convert.ToHexStringLower(GrantIds.Next(at))).ToList();

        Assert.Equal(ids.Count, ids.Distinct(StringComparer.Ordinal).Count());

        // 80 random bits: no byte position after the timestamp is constant across ids.
        for (var position = 12; position < 32; position += 2)
        {
            Assert.True(ids.Select(id => id.Substring(position, 2)).Distinct(StringComparer.Ordinal).Count() > 200, $"byte {position / 2} barely varies");
        }
    }
}
