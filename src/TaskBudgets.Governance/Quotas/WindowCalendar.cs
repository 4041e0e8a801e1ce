using TaskBudgets.Governance.Budgeting;

namespace TaskBudgets.Governance.Quotas;

/// <summary>Calendar-aligned UTC windows: a window is named by the instant it starts.</summary>
public static class WindowCalendar
{
    /// <remarks>
    /// Every grant looks up the window of each of its quotas. Minutes, hours and days divide UTC
    /// time evenly from its origin (midnight), so their start is the instant less its remainder,
    /// without taking the date apart; a month needs the calendar.
    /// </remarks>
    public static DateTimeOffset StartOf(WindowKind window, DateTimeOffset instant)
    {
        var ticks = instant.UtcTicks;
        return window switch
        {
            WindowKind.Minute => new DateTimeOffset(ticks - (ticks % TimeSpan.TicksPerMinute), TimeSpan.Zero),
            WindowKind.Hour => new DateTimeOffset(ticks - (ticks % TimeSpan.TicksPerHour), TimeSpan.Zero),
            WindowKind.Day => new DateTimeOffset(ticks - (ticks % TimeSpan.TicksPerDay), TimeSpan.Zero),
            WindowKind.Month => new DateTimeOffset(instant.UtcDateTime.Year, instant.UtcDateTime.Month, 1, 0, 0, 0, TimeSpan.Zero),
            _ => throw new ArgumentOutOfRangeException(nameof(window), window, "Unknown window."),
        };
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
