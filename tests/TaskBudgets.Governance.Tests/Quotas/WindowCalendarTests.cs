using TaskBudgets.Governance.Budgeting;
using TaskBudgets.Governance.Quotas;

namespace TaskBudgets.Governance.Tests.Quotas;

public class WindowCalendarTests
{
    [Theory]
    [InlineData(WindowKind.Minute, "2026-03-31T23:59:59.999Z", "2026-03-31T23:59:00Z", "2026-04-01T00:00:00Z")]
    [InlineData(WindowKind.Hour, "2026-03-31T23:10:00Z", "2026-03-31T23:00:00Z", "2026-04-01T00:00:00Z")]
    [InlineData(WindowKind.Day, "2026-12-31T12:00:00Z", "2026-12-31T00:00:00Z", "2027-01-01T00:00:00Z")]
    [InlineData(WindowKind.Month, "2028-02-29T18:00:00Z", "2028-02-01T00:00:00Z", "2028-03-01T00:00:00Z")]
    [InlineData(WindowKind.Day, "2026-06-01T01:30:00+05:00", "2026-05-31T00:00:00Z", "2026-06-01T00:00:00Z")]
    [InlineData(WindowKind.Minute, "2026-06-01T00:00:00Z", "2026-06-01T00:00:00Z", "2026-06-01T00:01:00Z")]
    [InlineData(WindowKind.Hour, "2026-06-01T05:59:59.9999999Z", "2026-06-01T05:00:00Z", "2026-06-01T06:00:00Z")]
    [InlineData(WindowKind.Month, "2027-01-01T03:00:00+05:00", "2026-12-01T00:00:00Z", "2027-01-01T00:00:00Z")]
    public void Windows_are_calendar_aligned_in_utc(WindowKind window, string instant, string start, string end)
    {
        var s = WindowCalendar.StartOf(window, DateTimeOffset.Parse(instant, System.Globalization.CultureInfo.InvariantCulture));

        Assert.Equal(DateTimeOffset.Parse(start, System.Globalization.CultureInfo.InvariantCulture), s);
        Assert.Equal(DateTimeOffset.Parse(end, System.Globalization.CultureInfo.InvariantCulture), WindowCalendar.EndOf(window, s));
        Assert.Equal(TimeSpan.Zero, s.Offset);
    }
}
