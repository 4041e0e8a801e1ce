using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace TaskBudgets.Workload;

/// <summary>
/// A server this program started (as tests/TaskBudgets.LoadTest's ServerHost does): the built server
/// as a process on free loopback ports, on SQLite in a throwaway directory, under the workload's
/// policy file, with a known admin key; killed (by its process id) and removed when disposed.
/// </summary>
internal sealed class WorkloadServer : IAsyncDisposable
{
    public const string AdminKey = "tb_workload-driver-admin-key-0123456789abcdef";
    private readonly Process process;
    private readonly string directory;

    private WorkloadServer(Process process, string directory, int grpcPort, int httpPort)
    {
        this.process = process;
        this.directory = directory;
        GrpcAddress = $"http://127.0.0.1:{grpcPort}";
        HttpAddress = $"http://127.0.0.1:{httpPort}";
    }

    public string GrpcAddress { get; }

    public string HttpAddress { get; }

    public static async Task<WorkloadServer> StartAsync(string policyYaml, string? serverDll, TextWriter log)
    {
        var dll = serverDll ?? Path.Combine(RepositoryRoot(), "src", "TaskBudgets.Governance", "bin", "Release", "net10.0", "TaskBudgets.Governance.dll");
        if (!File.Exists(dll))
        {
            throw new FileNotFoundException($"Build the server first: dotnet build src/TaskBudgets.Governance -c Release ({dll} is missing)", dll);
        }

        var directory = Directory.CreateTempSubdirectory("tb-workload-").FullName;
        var policy = Path.Combine(directory, "workload-policy.yaml");
        await File.WriteAllTextAsync(policy, policyYaml);
        for (var attempt = 0; ; attempt++)
        {
            var grpcPort = FreePort();
            var httpPort = FreePort();
            var info = new ProcessStartInfo("dotnet") { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var arg in new[]
            {
                dll,
                $"--contentRoot={Path.GetDirectoryName(Path.GetFullPath(dll))}",
                "--Server:ListenAddress=127.0.0.1",
                $"--Server:GrpcPort={grpcPort}",
                $"--Server:HttpPort={httpPort}",
                $"--Storage:DataDirectory={directory}",
                $"--Policy:File={policy}",
                "--Policy:ApplyOnStart=Always",
                $"--Auth:AdminKey={AdminKey}",

                // One key makes every call of the run: no per-key rate limit.
                "--Auth:RequestsPerSecond=1000000",
                "--Auth:RequestBurst=100000000",
                "--Logging:LogLevel:Default=Warning",
            })
            {
                info.ArgumentList.Add(arg);
            }

            var process = Process.Start(info) ?? throw new InvalidOperationException("could not start the server");
            var serverLog = new StreamWriter(Path.Combine(directory, "server.log")) { AutoFlush = true };
            process.OutputDataReceived += (_, e) => Write(serverLog, e.Data);
            process.ErrorDataReceived += (_, e) => Write(serverLog, e.Data);
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            var server = new WorkloadServer(process, directory, grpcPort, httpPort);
            if (await server.WaitReadyAsync())
            {
                await log.WriteLineAsync($"server ready: gRPC {server.GrpcAddress}, pid {process.Id}, SQLite in {directory}");
                return server;
            }

            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            if (attempt >= 1)
            {
                var tail = await File.ReadAllTextAsync(Path.Combine(directory, "server.log"));
                await server.DisposeAsync();
                throw new InvalidOperationException("the server did not become ready:\n" + tail[^Math.Min(4000, tail.Length)..]);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }

        process.Dispose();
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    public static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "TaskBudgets.Governance.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("TaskBudgets.Governance.sln not found above " + AppContext.BaseDirectory + "; pass --server-dll");
    }

    private static void Write(StreamWriter writer, string? line)
    {
        if (line is not null)
        {
            lock (writer)
            {
                writer.WriteLine(line);
            }
        }
    }

    private async Task<bool> WaitReadyAsync()
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var deadline = Stopwatch.GetTimestamp() + (Stopwatch.Frequency * 90);
        while (Stopwatch.GetTimestamp() < deadline)
        {
            if (process.HasExited)
            {
                return false;
            }

            try
            {
                using var response = await http.GetAsync(new Uri(HttpAddress + "/readyz"));
                if (response.IsSuccessStatusCode)
                {
                    return true;
                }
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException)
            {
            }

            await Task.Delay(100);
        }

        return false;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
