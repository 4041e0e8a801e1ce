using System.Text.RegularExpressions;

namespace TaskBudgets.Governance.Tests.Infrastructure;

/// <summary>
/// Reads the server's console as the simple formatter writes it (ServerProcess sets it): an
/// entry starts "&lt;timestamp&gt;fail: Category[event]", its message and exception follow indented.
/// </summary>
internal static partial class ConsoleLines
{
    /// <summary>The first line of an Error or Critical entry.</summary>
    public static bool IsError(string line) => Error().IsMatch(line);

    /// <summary>A frame of an exception's stack trace ("   at Namespace.Type.Method(...)").</summary>
    public static bool IsStackTrace(string line) => Frame().IsMatch(line);

    [GeneratedRegex(@"^\S*?(fail|crit): ")]
    private static partial Regex Error();

    [GeneratedRegex(@"^\s+at \S")]
    private static partial Regex Frame();
}
