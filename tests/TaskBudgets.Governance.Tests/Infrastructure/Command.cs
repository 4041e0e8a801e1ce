using System.Diagnostics;
using System.Text;

namespace TaskBudgets.Governance.Tests.Infrastructure;

/// <summary>What a finished command did: its exit code and everything it printed, both streams interleaved.</summary>
public sealed record CommandResult(string Description, int ExitCode, string Output)
{
    /// <summary>The output, or a failure that shows the command and its output when it did not exit 0.</summary>
    public string Succeeded() =>
        ExitCode == 0 ? Output : throw new Xunit.Sdk.XunitException($"{Description} exited {ExitCode}:\n{Output}");
}

/// <summary>Runs a tool (helm, promtool, node, ...) to completion.</summary>
public static class Command
{
    private static readonly TimeSpan DefaultTimeout = TimeSpan.FromMinutes(3);

    /// <exception cref="InvalidOperationException">The tool is not there, or did not finish within the timeout.</exception>
    public static async Task<CommandResult> RunAsync(
        string file,
        IEnumerable<string> arguments,
        string? workingDirectory = null,
        IReadOnlyDictionary<string, string>? environment = null,
        TimeSpan? timeout = null)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = workingDirectory ?? "" };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[name] = value;
        }

        var description = string.Join(' ', [file, .. info.ArgumentList]);
        var output = new StringBuilder();
        void Append(string? line)
        {
            if (line is not null)
            {
                lock (output)
                {
                    output.AppendLine(line);
                }
            }
        }

        using var process = new Process { StartInfo = info };
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        try
        {
            process.Start();
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException($"Cannot run {file}: {e.Message}", e);
        }

        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var deadline = new CancellationTokenSource(timeout ?? DefaultTimeout);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new InvalidOperationException($"{description} did not finish within {(timeout ?? DefaultTimeout).TotalSeconds:0} s:\n{output}");
        }

        // The last lines may still be in the readers: WaitForExit without a timeout waits for them.
        process.WaitForExit();
        lock (output)
        {
            return new CommandResult(description, process.ExitCode, output.ToString());
        }
    }
}
