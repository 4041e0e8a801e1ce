using System.Globalization;
using TaskBudgets.Testing;

namespace TaskBudgets.LoadTest;

/// <summary>
/// A server this program started: the built server as a process on free loopback ports, with the
/// load policy, on SQLite in a throwaway directory or on a throwaway PostgreSQL cluster.
/// </summary>
internal sealed class ServerHost : IAsyncDisposable
{
    private readonly LocalServer server;
    private readonly StreamWriter serverLog;
    private readonly PostgresCluster? postgres;
    private readonly bool keep;

    private ServerHost(LocalServer server, StreamWriter serverLog, string directory, PostgresCluster? postgres, bool keep)
    {
        this.server = server;
        this.serverLog = serverLog;
        this.postgres = postgres;
        this.keep = keep;
        Directory = directory;
    }

    public Uri GrpcAddress => server.GrpcAddress;

    public Uri HttpAddress => server.HttpAddress;

    public int ProcessId => server.ProcessId;

    public string Directory { get; }

    public string Description { get; private set; } = string.Empty;

    public static async Task<ServerHost> StartAsync(LoadOptions options, TextWriter log)
    {
        var dll = options.ServerDll ?? LocalServer.BuiltAssembly();
        if (!File.Exists(dll))
        {
            throw new FileNotFoundException($"no server at {dll}", dll);
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
            settings.Add(new("ConnectionStrings:Governance", postgres.ConnectionString + ";Maximum Pool Size=100"));
            description = $"PostgreSQL {postgres.Version} (fsync={(options.PostgresFsync ? "on" : "off")}, synchronous_commit=on)";
        }

        var ttl = options.GrantTtl ?? (options.Mode == LoadMode.Memory ? TimeSpan.FromSeconds(5) : null);
        if (ttl is { } grantTtl)
        {
            settings.Add(new("Grants:Ttl", grantTtl.ToString("c", CultureInfo.InvariantCulture)));
            // The server requires Leases:Ttl >= Grants:Ttl + 2 x Leases:RenewInterval (2 s by default).
            var leaseTtl = TimeSpan.FromTicks(Math.Max(TimeSpan.FromMinutes(15).Ticks, (grantTtl + TimeSpan.FromSeconds(10)).Ticks));
            settings.Add(new("Leases:Ttl", leaseTtl.ToString("c", CultureInfo.InvariantCulture)));

            // And Leases:MaxClockSkew (2 s by default) below half of Grants:Ttl; one machine, one clock.
            var skew = TimeSpan.FromTicks(Math.Min(TimeSpan.FromSeconds(2).Ticks, grantTtl.Ticks / 4));
            settings.Add(new("Leases:MaxClockSkew", skew.ToString("c", CultureInfo.InvariantCulture)));
            description += $", Grants:Ttl={grantTtl.TotalSeconds.ToString(CultureInfo.InvariantCulture)}s";
        }

        settings.AddRange(options.ServerArgs);
        foreach (var extra in options.ServerArgs)
        {
            description += $", {extra.Key}={extra.Value}";
        }

        var serverLog = new StreamWriter(Path.Combine(directory, "server.log")) { AutoFlush = true };
        try
        {
            var server = await LocalServer.StartAsync(dll, directory, settings, serverLog.WriteLine);
            await log.WriteLineAsync($"server ready: gRPC {server.GrpcAddress}, HTTP {server.HttpAddress}, pid {server.ProcessId}; {description}");
            return new ServerHost(server, serverLog, directory, postgres, options.KeepData) { Description = description };
        }
        catch
        {
            await serverLog.DisposeAsync();
            if (postgres is not null)
            {
                await postgres.DisposeAsync();
            }

            if (!options.KeepData)
            {
                System.IO.Directory.Delete(directory, recursive: true);
            }

            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await server.DisposeAsync();
        await serverLog.DisposeAsync();
        if (postgres is not null)
        {
            await postgres.DisposeAsync();
        }

        if (!keep)
        {
            try
            {
                System.IO.Directory.Delete(Directory, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}
