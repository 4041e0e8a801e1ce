using System.Diagnostics;
using Google.Protobuf;
using TaskBudgets.V1;

namespace TaskBudgets.LoadTest;

/// <summary>The bare server (<see cref="BareServer"/>) as a child process of the generator.</summary>
internal sealed class BareHost : IServerCounters, IAsyncDisposable
{
    private readonly Process process;
    private readonly string directory;

    private BareHost(Process process, string directory, int port)
    {
        this.process = process;
        this.directory = directory;
        GrpcAddress = new Uri($"http://127.0.0.1:{port}");
    }

    public Uri GrpcAddress { get; }

    public int ProcessId => process.Id;

    /// <summary>Starts it with the real server's replies (one GetBudget answer, one ReportUsage answer) as its canned ones.</summary>
    public static async Task<BareHost> StartAsync(GetBudgetResponse budget, ReportUsageResponse receipt)
    {
        var directory = Path.Combine(Path.GetTempPath(), "tb-bare-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(directory);
        var budgetFile = Path.Combine(directory, "get-budget.bin");
        var receiptFile = Path.Combine(directory, "report-usage.bin");
        await File.WriteAllBytesAsync(budgetFile, budget.ToByteArray());
        await File.WriteAllBytesAsync(receiptFile, receipt.ToByteArray());

        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { typeof(BareServer).Assembly.Location, BareServer.Flag, budgetFile, receiptFile })
        {
            start.ArgumentList.Add(arg);
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start the bare server");
        var line = await process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60));
        if (line is null || !line.StartsWith("port ", StringComparison.Ordinal))
        {
            process.Kill();
            throw new InvalidOperationException("the bare server did not start: " + line);
        }

        return new BareHost(process, directory, int.Parse(line[5..], System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <summary>The child's CPU time, under the name the real server's /metrics gives it.</summary>
    public Task<Dictionary<string, double>?> TryScrapeAsync()
    {
        process.Refresh();
        return Task.FromResult<Dictionary<string, double>?>(new(StringComparer.Ordinal)
        {
            [MetricsScraper.CpuTime] = process.TotalProcessorTime.TotalSeconds,
        });
    }

    public async ValueTask DisposeAsync()
    {
        process.StandardInput.Close();
        if (!process.WaitForExit(TimeSpan.FromSeconds(5)))
        {
            process.Kill();
        }

        await process.WaitForExitAsync();
        process.Dispose();
        Directory.Delete(directory, recursive: true);
    }
}
