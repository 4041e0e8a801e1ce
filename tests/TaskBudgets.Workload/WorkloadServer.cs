using TaskBudgets.Testing;

namespace TaskBudgets.Workload;

/// <summary>
/// A server this program started: the built server as a process on free loopback ports, on SQLite
/// in a throwaway directory, under the workload's policy file, with a known admin key; killed and
/// removed when disposed.
/// </summary>
internal sealed class WorkloadServer : IAsyncDisposable
{
    public const string AdminKey = "tb_workload-driver-admin-key-0123456789abcdefghijk";
    private readonly LocalServer server;
    private readonly StreamWriter serverLog;
    private readonly string directory;

    private WorkloadServer(LocalServer server, StreamWriter serverLog, string directory)
    {
        this.server = server;
        this.serverLog = serverLog;
        this.directory = directory;
    }

    public string GrpcAddress => server.GrpcAddress.ToString().TrimEnd('/');

    public static async Task<WorkloadServer> StartAsync(string policyYaml, string? serverDll, TimeSpan? syncInterval, TextWriter log)
    {
        var dll = serverDll ?? LocalServer.BuiltAssembly();
        if (!File.Exists(dll))
        {
            throw new FileNotFoundException($"no server at {dll}", dll);
        }

        var directory = Directory.CreateTempSubdirectory("tb-workload-").FullName;
        var policy = Path.Combine(directory, "workload-policy.yaml");
        await File.WriteAllTextAsync(policy, policyYaml);
        var settings = new Dictionary<string, string>
        {
            ["contentRoot"] = Path.GetDirectoryName(Path.GetFullPath(dll))!,
            ["Storage:DataDirectory"] = directory,
            ["Policy:File"] = policy,
            ["Policy:ApplyOnStart"] = "Always",
            ["Auth:AdminKey"] = AdminKey,

            // One key makes every call of the run: no per-key rate limit.
            ["Auth:RequestsPerSecond"] = "1000000",
            ["Auth:RequestBurst"] = "100000000",
            ["Logging:LogLevel:Default"] = "Warning",
        };
        if (syncInterval is { } interval)
        {
            settings["Calibration:SyncInterval"] = interval.ToString("c", System.Globalization.CultureInfo.InvariantCulture);
        }

        var serverLog = new StreamWriter(Path.Combine(directory, "server.log")) { AutoFlush = true };
        try
        {
            var server = await LocalServer.StartAsync(dll, directory, settings, serverLog.WriteLine);
            await log.WriteLineAsync($"server ready: gRPC {server.GrpcAddress}, pid {server.ProcessId}, SQLite in {directory}");
            return new WorkloadServer(server, serverLog, directory);
        }
        catch
        {
            await serverLog.DisposeAsync();
            Directory.Delete(directory, recursive: true);
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await server.DisposeAsync();
        await serverLog.DisposeAsync();
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
