using TaskBudgets.Governance.Budgeting;

namespace TaskBudgets.Governance.Quotas;

/// <summary>Calendar-aligned UTC windows: a window is named by the instant it starts.</summary>
public static class WindowCalendar
{
    public static DateTimeOffset StartOf(WindowKind window, DateTimeOffset instant)
    {
        var utc = instant.UtcDateTime;
        var start = window switch
        {
            WindowKind.Minute => new DateTime(utc.Year, utc.Month, utc.Day, utc.Hour, utc.Minute, 0, DateTimeKind.Utc),
            WindowKind.Hour => new DateTime(utc.Year, utc.Month, utc.Day, utc.Hour, 0, 0, DateTimeKind.Utc),
            WindowKind.Day => new DateTime(utc.Year, utc.Month, utc.Day, 0, 0, 0, DateTimeKind.Utc),
            WindowKind.Month => new DateTime(utc.Year, utc.Month, 1, 0, 0, 0, DateTimeKind.Utc),
            _ => throw new ArgumentOutOfRangeException(nameof(window), window, "Unknown window."),
        };
        return new DateTimeOffset(start);
    }

    public static DateTimeOffset EndOf(WindowKind window, DateTimeOffset windowStart) => window switch
    {
        WindowKind.Minute => windowStart.AddMinutes(1),
        WindowKind.Hour => windowStart.AddHours(1),
        WindowKind.Day => windowStart.AddDays(1),
        WindowKind.Month => windowStart.AddMonths(1),
        _ => throw new ArgumentOutOfRangeException(nameof(window), window, "Unknown window."),
    };
}
