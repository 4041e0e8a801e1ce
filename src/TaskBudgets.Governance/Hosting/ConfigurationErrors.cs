using Microsoft.Extensions.Options;

namespace TaskBudgets.Governance.Hosting;

/// <summary>
/// A setting that does not bind or does not validate stops start-up with a line naming it and exit
/// code 1, instead of an unhandled exception: a stack trace and an abort (exit 134, and a core dump
/// where they are on) that a container runtime reports as a crash. A failure inside the host's
/// start is also logged by the host itself, with its stack, before this line.
/// </summary>
public static class ConfigurationErrors
{
    /// <summary>Exit code of a start refused for its configuration.</summary>
    public const int ExitCode = 1;

    /// <summary>What is wrong with the configuration, or null when <paramref name="exception"/> is not about it.</summary>
    public static string? Describe(Exception exception) => exception switch
    {
        OptionsValidationException invalid => string.Join(Environment.NewLine, invalid.Failures),

        // The binder's conversion failure names the value, the key and the type; the innermost
        // exception says what the type expects.
        InvalidOperationException { Source: "Microsoft.Extensions.Configuration.Binder", InnerException: not null } conversion =>
            $"{conversion.Message} {Innermost(conversion).Message}",

        // A content root (--contentRoot) that is not there; a relative one is taken from the app's folder.
        DirectoryNotFoundException { Source: "Microsoft.Extensions.FileProviders.Physical" } missing =>
            $"the content root {missing.Message} does not exist (a relative --contentRoot is relative to the server's own folder).",
        _ => null,
    };

    private static Exception Innermost(Exception exception) => exception.InnerException is { } inner ? Innermost(inner) : exception;
}
