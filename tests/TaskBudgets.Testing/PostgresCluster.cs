using System.Diagnostics;

namespace TaskBudgets.Testing;

/// <summary>
/// A throwaway PostgreSQL cluster from the machine's binaries (/usr/lib/postgresql/*/bin) on a free
/// loopback port, run as the postgres user when we are root (initdb refuses root). Disposing stops
/// it; the directory stays with its owner.
/// </summary>
public sealed class PostgresCluster : IAsyncDisposable
{
    private readonly string binaries;
    private readonly string settings;
    private readonly bool asRoot = Environment.UserName == "root";

    private PostgresCluster(string binaries, string directory, int port, bool fsync)
    {
        this.binaries = binaries;
        Directory = directory;
        Port = port;
        settings = $"-p {port} -k {directory} -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync={(fsync ? "on" : "off")}";
    }

    public string Directory { get; }

    public int Port { get; }

    /// <summary>The superuser on the postgres database, over TCP.</summary>
    public string ConnectionString => $"Host=127.0.0.1;Port={Port};Username=postgres;Database=postgres;Timeout=30";

    /// <summary>The major version, from the binaries' folder (e.g. "15").</summary>
    public string Version => Path.GetFileName(Path.GetDirectoryName(binaries)) ?? "?";

    /// <summary>The newest PostgreSQL bin folder installed here, or null.</summary>
    public static string? FindBinaries() =>
        System.IO.Directory.Exists("/usr/lib/postgresql")
            ? System.IO.Directory.GetDirectories("/usr/lib/postgresql").Select(d => Path.Combine(d, "bin")).Where(d => File.Exists(Path.Combine(d, "pg_ctl"))).OrderDescending().FirstOrDefault()
            : null;

    /// <summary>Creates a cluster in <paramref name="directory"/> and starts it.</summary>
    /// <param name="fsync">On to measure durable commits; off where only a process crash is tested.</param>
    public static async Task<PostgresCluster> StartAsync(string directory, bool fsync)
    {
        var binaries = FindBinaries() ?? throw new InvalidOperationException("no PostgreSQL binaries under /usr/lib/postgresql (apt-get install postgresql)");
        System.IO.Directory.CreateDirectory(directory);
        var cluster = new PostgresCluster(binaries, directory, FreePort.Next(), fsync);
        if (cluster.asRoot)
        {
            await RunAsync("chown", $"postgres {directory}");
        }

        await cluster.RunPgAsync("initdb", $"-D {directory}/data -U postgres --auth=trust -E UTF8 --no-sync");
        await cluster.StartAgainAsync();
        return cluster;
    }

    /// <summary>Stops the server as an administrator would (an outage a test causes).</summary>
    public Task StopAsync() => RunPgAsync("pg_ctl", $"-D {Directory}/data -m fast -w stop");

    /// <summary>Starts a stopped cluster again, on the same port.</summary>
    public Task StartAgainAsync() => RunPgAsync("pg_ctl", $"-D {Directory}/data -l {Directory}/log -w -t 60 -o \"{settings}\" start");

    public async ValueTask DisposeAsync()
    {
        try
        {
            await RunPgAsync("pg_ctl", $"-D {Directory}/data -m immediate -w stop");
        }
        catch (InvalidOperationException)
        {
            // Already stopped.
        }
    }

    private Task RunPgAsync(string tool, string arguments) =>
        asRoot
            ? RunAsync("runuser", $"-u postgres -- {Path.Combine(binaries, tool)} {arguments}")
            : RunAsync(Path.Combine(binaries, tool), arguments);

    private static async Task RunAsync(string file, string arguments)
    {
        var info = new ProcessStartInfo(file, arguments) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {file}");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {arguments} failed ({process.ExitCode}): {await output}{await error}");
        }
    }
}
