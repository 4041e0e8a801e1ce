using System.Diagnostics;
using System.Text;
using Grpc.Core.Interceptors;
using Grpc.Net.Client;
using TaskBudgets.V1;

namespace TaskBudgets.Governance.Tests.Infrastructure;

/// <summary>
/// The built server started as a real process on loopback ports, for what an in-process host
/// cannot show: a kill -9, several replicas, a real scrape.
/// </summary>
public sealed class ServerProcess : IAsyncDisposable
{
    private readonly Process process;
    private readonly StringBuilder output = new();
    private GrpcChannel? channel;

    private ServerProcess(Process process, int grpcPort, int httpPort)
    {
        this.process = process;
        GrpcPort = grpcPort;
        HttpPort = httpPort;
    }

    public int GrpcPort { get; }

    public int HttpPort { get; }

    public Uri HttpAddress => new($"http://127.0.0.1:{HttpPort}");

    public GrpcChannel Channel => channel ??= GrpcChannel.ForAddress($"http://127.0.0.1:{GrpcPort}");

    /// <summary>The data plane, called with the first admin key.</summary>
    public BudgetService.BudgetServiceClient Budgets => new(Channel.Intercept(metadata =>
    {
        metadata.Add("authorization", "Bearer " + GovernanceApp.AdminKey);
        return metadata;
    }));

    public string Output
    {
        get
        {
            lock (output)
            {
                return output.ToString();
            }
        }
    }

    /// <summary>Starts the server on <paramref name="dataDirectory"/> and waits until it is ready.</summary>
    public static async Task<ServerProcess> StartAsync(string dataDirectory, IDictionary<string, string>? settings = null)
    {
        // A free port can be taken by a parallel test before the server binds it: try new ones.
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await StartOnceAsync(dataDirectory, settings);
            }
            catch (InvalidOperationException e) when (attempt < 4 && e.Message.Contains("address already in use", StringComparison.OrdinalIgnoreCase))
            {
            }
        }
    }

    private static async Task<ServerProcess> StartOnceAsync(string dataDirectory, IDictionary<string, string>? settings)
    {
        var dll = ServerAssembly();
        var grpcPort = Ports.Free();
        var httpPort = Ports.Free();
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = dataDirectory,
        };
        info.ArgumentList.Add(dll);
        var all = new Dictionary<string, string>
        {
            ["Server:ListenAddress"] = "127.0.0.1",
            ["Server:GrpcPort"] = grpcPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Server:HttpPort"] = httpPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Storage:DataDirectory"] = dataDirectory,
            ["Logging:Console:FormatterName"] = "simple",
            ["Auth:AdminKey"] = GovernanceApp.AdminKey,
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string>())
        {
            all[key] = value;
        }

        foreach (var (key, value) in all)
        {
            info.ArgumentList.Add($"--{key}={value}");
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException("could not start the server");
        var server = new ServerProcess(process, grpcPort, httpPort);
        process.OutputDataReceived += (_, e) => server.Append(e.Data);
        process.ErrorDataReceived += (_, e) => server.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await server.WaitReadyAsync();
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>kill -9: no shutdown, no flush, no goodbye.</summary>
    public async Task KillAsync()
    {
        process.Kill(entireProcessTree: true);
        await process.WaitForExitAsync();
    }

    public async ValueTask DisposeAsync()
    {
        channel?.Dispose();
        if (!process.HasExited)
        {
            await KillAsync();
        }

        process.Dispose();
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (output)
        {
            output.AppendLine(line);
        }
    }

    private async Task WaitReadyAsync()
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var deadline = DateTime.UtcNow.AddSeconds(90);
        while (DateTime.UtcNow < deadline)
        {
            if (process.HasExited)
            {
                // Its last lines may still be on their way through the output readers: this waits for them.
                await process.WaitForExitAsync();
                throw new InvalidOperationException($"the server exited with {process.ExitCode}:\n{Output}");
            }

            try
            {
                using var response = await http.GetAsync(new Uri(HttpAddress, "/readyz"));
                if (response.IsSuccessStatusCode)
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

            await Task.Delay(100);
        }

        throw new TimeoutException($"the server was not ready within 90 s:\n{Output}");
    }

    private static string ServerAssembly()
    {
        var configuration = AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}", StringComparison.Ordinal) ? "Release" : "Debug";
        var dll = Path.Combine(Repository.Root, "src", "TaskBudgets.Governance", "bin", configuration, "net10.0", "TaskBudgets.Governance.dll");
        return File.Exists(dll) ? dll : throw new FileNotFoundException("Build the server first (dotnet build).", dll);
    }

}
