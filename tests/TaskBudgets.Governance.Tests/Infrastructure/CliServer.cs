using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace TaskBudgets.Governance.Tests.Infrastructure;

/// <summary>
/// The built server as a real process (dotnet TaskBudgets.Governance.dll) on loopback ports, with a
/// data directory of its own and a known admin key; stopped (by its process id) when disposed.
/// </summary>
public sealed class CliServer : IAsyncLifetime
{
    public const string AdminKey = "tb_cli-test-admin-key-0123456789abcdefghijklmn";
    private readonly StringBuilder log = new();
    private Process? process;

    public string DataDirectory { get; } = Path.Combine(Path.GetTempPath(), "tb-cli-" + Guid.NewGuid().ToString("N")[..12]);

    public int GrpcPort { get; } = FreePort();

    public int HttpPort { get; } = FreePort();

    public string Address => $"http://127.0.0.1:{GrpcPort}";

    /// <summary>What the server printed so far, for failure messages.</summary>
    public string Log
    {
        get
        {
            lock (log)
            {
                return log.ToString();
            }
        }
    }

    public async ValueTask InitializeAsync()
    {
        Directory.CreateDirectory(DataDirectory);
        var dll = ServerDll();
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Path.GetDirectoryName(dll)!,
        };
        foreach (var arg in new[]
        {
            dll,
            $"--Storage:DataDirectory={DataDirectory}",
            "--Server:ListenAddress=127.0.0.1",
            $"--Server:GrpcPort={GrpcPort}",
            $"--Server:HttpPort={HttpPort}",
            $"--Auth:AdminKey={AdminKey}",
            "--Logging:LogLevel:Default=Warning",

            // The calibration CLI test waits for reports to reach GetCalibration.
            "--Calibration:SyncInterval=00:00:00.200",
        })
        {
            info.ArgumentList.Add(arg);
        }

        process = Process.Start(info) ?? throw new InvalidOperationException("could not start the server");
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"The server exited with {process.ExitCode}:\n{Log}");
            }

            try
            {
                using var ready = await http.GetAsync(new Uri($"http://127.0.0.1:{HttpPort}/readyz"));
                if (ready.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException)
            {
            }

            await Task.Delay(200);
        }

        throw new TimeoutException($"The server was not ready within 60 s:\n{Log}");
    }

    public async ValueTask DisposeAsync()
    {
        if (process is not null)
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
            }

            process.Dispose();
        }

        try
        {
            Directory.Delete(DataDirectory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>src/TaskBudgets.Governance/bin/&lt;configuration of this test build&gt;/net10.0/TaskBudgets.Governance.dll.</summary>
    private static string ServerDll()
    {
        var here = new DirectoryInfo(AppContext.BaseDirectory);
        var configuration = here.Parent?.Name ?? "Release";
        var root = here;
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "TaskBudgets.Governance.sln")))
        {
            root = root.Parent;
        }

        if (root is null)
        {
            throw new InvalidOperationException("TaskBudgets.Governance.sln not found above " + AppContext.BaseDirectory);
        }

        var dll = Path.Combine(root.FullName, "src", "TaskBudgets.Governance", "bin", configuration, "net10.0", "TaskBudgets.Governance.dll");
        return File.Exists(dll) ? dll : throw new FileNotFoundException("Build the server first (dotnet build -c " + configuration + ").", dll);
    }

    private void Append(string? line)
    {
        if (line is not null)
        {
            lock (log)
            {
                log.AppendLine(line);
            }
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
