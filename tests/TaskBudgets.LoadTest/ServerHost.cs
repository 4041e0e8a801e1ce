using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace TaskBudgets.LoadTest;

/// <summary>
/// A server this program started: the built server as a process on free loopback ports, with the
/// load policy, on SQLite in a throwaway directory or on a throwaway PostgreSQL cluster.
/// </summary>
internal sealed class ServerHost : IAsyncDisposable
{
    private readonly Process process;
    private readonly string directory;
    private readonly PostgresCluster? postgres;
    private readonly bool keep;

    private ServerHost(Process process, string directory, PostgresCluster? postgres, int grpcPort, int httpPort, bool keep)
    {
        this.process = process;
        this.directory = directory;
        this.postgres = postgres;
        this.keep = keep;
        GrpcAddress = new Uri($"http://127.0.0.1:{grpcPort}");
        HttpAddress = new Uri($"http://127.0.0.1:{httpPort}");
    }

    public Uri GrpcAddress { get; }

    public Uri HttpAddress { get; }

    public int ProcessId => process.Id;

    public string Directory => directory;

    public string Description { get; private set; } = string.Empty;

    public static async Task<ServerHost> StartAsync(LoadOptions options, TextWriter log)
    {
        var dll = options.ServerDll ?? Path.Combine(RepositoryRoot(), "src", "TaskBudgets.Governance", "bin", "Release", "net10.0", "TaskBudgets.Governance.dll");
        if (!File.Exists(dll))
        {
            throw new FileNotFoundException($"Build the server first: dotnet build src/TaskBudgets.Governance -c Release ({dll} is missing)", dll);
        }

        var directory = Path.Combine(Path.GetTempPath(), "tb-load-" + Guid.NewGuid().ToString("N")[..8]);
        System.IO.Directory.CreateDirectory(directory);
        var policy = Path.Combine(directory, "load-policy.yaml");
        await File.WriteAllTextAsync(policy, LoadPolicy.Yaml(options.Orgs));

        PostgresCluster? postgres = null;
        var settings = new List<KeyValuePair<string, string>>
        {
            // The server's own appsettings.json (log levels: EF Core and ASP.NET Core at Warning) is
            // found through the content root; without it every request and every SQL command is
            // logged at Information, which is not how the server runs in production.
            new("contentRoot", Path.GetDirectoryName(Path.GetFullPath(dll))!),
            new("Server:ListenAddress", "127.0.0.1"),
            new("Storage:DataDirectory", directory),
            new("Policy:File", policy),
            new("Policy:ApplyOnStart", "Always"),
            new("Logging:Console:FormatterName", "simple"),

            // The generator calls with the one admin key; the per-key rate limit (1,000/s by
            // default) would otherwise answer most calls RESOURCE_EXHAUSTED and the run would
            // measure the limiter, not the data plane. --server-arg can set them back.
            new("Auth:RequestsPerSecond", "10000000"),
            new("Auth:RequestBurst", "10000000"),
        };
        var description = $"SQLite in {directory}";
        if (options.StartServer == "postgresql")
        {
            await log.WriteLineAsync($"starting a throwaway PostgreSQL cluster (fsync={(options.PostgresFsync ? "on" : "off")})");
            postgres = await PostgresCluster.StartAsync(Path.Combine(directory, "pg"), options.PostgresFsync);
            settings.Add(new("Storage:Provider", "PostgreSql"));
            settings.Add(new("ConnectionStrings:Governance", postgres.ConnectionString));
            description = $"PostgreSQL {postgres.Version} (fsync={(options.PostgresFsync ? "on" : "off")}, synchronous_commit=on)";
        }

        var ttl = options.GrantTtl ?? (options.Mode == LoadMode.Memory ? TimeSpan.FromSeconds(5) : null);
        if (ttl is { } grantTtl)
        {
            settings.Add(new("Grants:Ttl", grantTtl.ToString("c", CultureInfo.InvariantCulture)));
            // The server requires Leases:Ttl >= Grants:Ttl + 2 x Leases:RenewInterval (2 s by default).
            var leaseTtl = TimeSpan.FromTicks(Math.Max(TimeSpan.FromMinutes(15).Ticks, (grantTtl + TimeSpan.FromSeconds(10)).Ticks));
            settings.Add(new("Leases:Ttl", leaseTtl.ToString("c", CultureInfo.InvariantCulture)));
            description += $", Grants:Ttl={grantTtl.TotalSeconds.ToString(CultureInfo.InvariantCulture)}s";
        }

        settings.AddRange(options.ServerArgs);
        foreach (var extra in options.ServerArgs)
        {
            description += $", {extra.Key}={extra.Value}";
        }

        for (var attempt = 0; ; attempt++)
        {
            var grpcPort = FreePort();
            var httpPort = FreePort();
            var info = new ProcessStartInfo("dotnet")
            {
                WorkingDirectory = directory,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            info.ArgumentList.Add(dll);
            foreach (var (key, value) in settings)
            {
                info.ArgumentList.Add($"--{key}={value}");
            }

            info.ArgumentList.Add($"--Server:GrpcPort={grpcPort}");
            info.ArgumentList.Add($"--Server:HttpPort={httpPort}");
            var process = Process.Start(info) ?? throw new InvalidOperationException("could not start the server");
            var serverLog = new StreamWriter(Path.Combine(directory, "server.log")) { AutoFlush = true };
            process.OutputDataReceived += (_, e) => Write(serverLog, e.Data);
            process.ErrorDataReceived += (_, e) => Write(serverLog, e.Data);
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            var host = new ServerHost(process, directory, postgres, grpcPort, httpPort, options.KeepData) { Description = description };
            if (await host.WaitReadyAsync())
            {
                await log.WriteLineAsync($"server ready: gRPC {host.GrpcAddress}, HTTP {host.HttpAddress}, pid {process.Id}; {description}");
                return host;
            }

            // Most likely a port taken between finding it free and binding it: once more.
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            if (attempt >= 1)
            {
                var tail = await File.ReadAllTextAsync(Path.Combine(directory, "server.log"));
                await host.DisposeAsync();
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
        if (postgres is not null)
        {
            await postgres.DisposeAsync();
        }

        if (!keep)
        {
            try
            {
                System.IO.Directory.Delete(directory, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    private static void Write(StreamWriter writer, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (writer)
        {
            writer.WriteLine(line);
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
                using var response = await http.GetAsync(new Uri(HttpAddress, "/readyz"));
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
}

/// <summary>
/// A throwaway PostgreSQL cluster from the machine's binaries (as the test suite starts one), on a
/// free loopback port, stopped and removed afterwards. Run as the postgres user when we are root.
/// </summary>
internal sealed class PostgresCluster : IAsyncDisposable
{
    private readonly string binaries;
    private readonly string directory;
    private readonly bool asRoot;

    private PostgresCluster(string binaries, string directory, bool asRoot, int port)
    {
        this.binaries = binaries;
        this.directory = directory;
        this.asRoot = asRoot;
        ConnectionString = $"Host=127.0.0.1;Port={port};Username=postgres;Database=postgres;Timeout=30;Maximum Pool Size=100";
    }

    public string ConnectionString { get; }

    public string Version => Path.GetFileName(Path.GetDirectoryName(binaries)) ?? "?";

    public static async Task<PostgresCluster> StartAsync(string directory, bool fsync)
    {
        var binaries = System.IO.Directory.Exists("/usr/lib/postgresql")
            ? System.IO.Directory.GetDirectories("/usr/lib/postgresql").Select(d => Path.Combine(d, "bin")).Where(d => File.Exists(Path.Combine(d, "pg_ctl"))).OrderDescending().FirstOrDefault()
            : null;
        if (binaries is null)
        {
            throw new InvalidOperationException("no PostgreSQL binaries under /usr/lib/postgresql (apt-get install postgresql), or run a server yourself and pass --address");
        }

        System.IO.Directory.CreateDirectory(directory);
        var asRoot = Environment.UserName == "root";
        if (asRoot)
        {
            await RunAsync("chown", $"postgres {directory}");
        }

        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();

        var cluster = new PostgresCluster(binaries, directory, asRoot, port);
        await cluster.RunPgAsync("initdb", $"-D {directory}/data -U postgres --auth=trust -E UTF8 --no-sync");
        var settings = $"-p {port} -k {directory} -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync={(fsync ? "on" : "off")}";
        await cluster.RunPgAsync("pg_ctl", $"-D {directory}/data -l {directory}/log -w -t 60 -o \"{settings}\" start");
        return cluster;
    }

    public async ValueTask DisposeAsync() => await RunPgAsync("pg_ctl", $"-D {directory}/data -m immediate -w stop");

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
