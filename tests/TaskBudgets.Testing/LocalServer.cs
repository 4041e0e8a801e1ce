using System.Diagnostics;
using System.Text;

namespace TaskBudgets.Testing;

/// <summary>
/// The built server (dotnet TaskBudgets.Governance.dll) as a process on two free loopback ports,
/// gRPC and HTTP (health, metrics), its settings given as command-line configuration; ready once
/// /readyz answers. Disposing kills it: no shutdown, as a crash would leave it.
/// </summary>
public sealed class LocalServer : IAsyncDisposable
{
    private static readonly TimeSpan ReadyWithin = TimeSpan.FromSeconds(90);
    private readonly Process process;
    private readonly Action<string>? echo;
    private readonly StringBuilder output = new();

    private readonly Func<HttpMessageHandler>? httpHandler;

    private LocalServer(Process process, int grpcPort, int httpPort, Action<string>? echo, bool tls, Func<HttpMessageHandler>? httpHandler)
    {
        this.process = process;
        this.echo = echo;
        this.httpHandler = httpHandler;
        Scheme = tls ? Uri.UriSchemeHttps : Uri.UriSchemeHttp;
        GrpcPort = grpcPort;
        HttpPort = httpPort;
    }

    public int GrpcPort { get; }

    public int HttpPort { get; }

    /// <summary>"https" when the settings name a TLS certificate (Server:Tls:CertificatePath or PfxPath), else "http".</summary>
    public string Scheme { get; }

    public Uri GrpcAddress => new($"{Scheme}://127.0.0.1:{GrpcPort}");

    public Uri HttpAddress => new($"{Scheme}://127.0.0.1:{HttpPort}");

    public int ProcessId => process.Id;

    /// <summary>Everything the server printed so far.</summary>
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

    /// <summary>The server this repository built in <paramref name="configuration"/>.</summary>
    public static string BuiltAssembly(string configuration = "Release")
    {
        var dll = Path.Combine(Repository.Root, "src", "TaskBudgets.Governance", "bin", configuration, "net10.0", "TaskBudgets.Governance.dll");
        return File.Exists(dll) ? dll : throw new FileNotFoundException($"Build the server first: dotnet build src/TaskBudgets.Governance -c {configuration} ({dll} is missing)", dll);
    }

    /// <summary>Starts the server and waits until it is ready.</summary>
    /// <param name="settings">Configuration keys and values; the listen address and ports are set here.</param>
    /// <param name="echo">Also gets each line the server prints (e.g. to write a log file).</param>
    /// <param name="httpHandler">
    /// Makes the handler the readiness check uses, e.g. one trusting a test CA or presenting a client
    /// certificate; default a plain one (over TLS: one that takes any server certificate).
    /// </param>
    /// <exception cref="InvalidOperationException">The server exited, or was not ready in 90 s; the message holds its output.</exception>
    public static Task<LocalServer> StartAsync(string dll, string workingDirectory, IEnumerable<KeyValuePair<string, string>> settings, Action<string>? echo = null, Func<HttpMessageHandler>? httpHandler = null)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var given = settings.ToList();
        var tls = given.Any(s => s.Key is "Server:Tls:CertificatePath" or "Server:Tls:PfxPath" && !string.IsNullOrEmpty(s.Value));
        return StartOnFreePortsAsync((grpcPort, httpPort) =>
        {
            var arguments = new List<string> { dll };
            arguments.AddRange(given.Select(s => $"--{s.Key}={s.Value}"));
            arguments.Add("--Server:ListenAddress=127.0.0.1");
            arguments.Add($"--Server:GrpcPort={grpcPort}");
            arguments.Add($"--Server:HttpPort={httpPort}");
            return Launch(arguments, new Dictionary<string, string>(), workingDirectory, grpcPort, httpPort, echo, tls, httpHandler);
        });
    }

    /// <summary>
    /// Starts the server configured as a container configures it: by environment variables and
    /// arguments only. <paramref name="environmentFor"/> gets the free gRPC and HTTP ports and must
    /// name them in the environment, since nothing else tells the server where to listen.
    /// </summary>
    /// <exception cref="InvalidOperationException">The server exited, or was not ready in 90 s; the message holds its output.</exception>
    public static Task<LocalServer> StartAsync(string dll, string workingDirectory, IReadOnlyList<string> arguments, Func<int, int, IReadOnlyDictionary<string, string>> environmentFor, Action<string>? echo = null)
    {
        ArgumentNullException.ThrowIfNull(environmentFor);
        return StartOnFreePortsAsync((grpcPort, httpPort) =>
        {
            var environment = environmentFor(grpcPort, httpPort);
            var tls = environment.Any(e => e.Key is "Server__Tls__CertificatePath" or "Server__Tls__PfxPath" && !string.IsNullOrEmpty(e.Value));
            return Launch([dll, .. arguments], environment, workingDirectory, grpcPort, httpPort, echo, tls, httpHandler: null);
        });
    }

    private static async Task<LocalServer> StartOnFreePortsAsync(Func<int, int, LocalServer> launch)
    {
        // A port that was free can be taken by a parallel start before the server binds it: new ports.
        for (var attempt = 1; ; attempt++)
        {
            var server = launch(FreePort.Next(), FreePort.Next());
            var failure = await server.WaitReadyAsync();
            if (failure is null)
            {
                return server;
            }

            await server.DisposeAsync();
            if (attempt >= 4 || !server.Output.Contains("address already in use", StringComparison.OrdinalIgnoreCase))
            {
                throw new InvalidOperationException($"{failure}:\n{server.Output}");
            }
        }
    }

    /// <summary>kill -9: no shutdown, no flush, no goodbye.</summary>
    public async Task KillAsync()
    {
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
        }

        await process.WaitForExitAsync();
    }

    /// <summary>SIGSTOP: the process stops where it is, sockets open, until <see cref="ResumeAsync"/>.</summary>
    public Task PauseAsync() => SignalAsync("STOP");

    /// <summary>SIGCONT: a paused process goes on from where it stopped.</summary>
    public Task ResumeAsync() => SignalAsync("CONT");

    public async ValueTask DisposeAsync()
    {
        if (!process.HasExited)
        {
            // A paused process cannot die of SIGKILL until it is scheduled again on some kernels.
            await ResumeAsync();
        }

        await KillAsync();
        process.Dispose();
    }

    private async Task SignalAsync(string signal)
    {
        using var kill = Process.Start(new ProcessStartInfo("kill", ["-s", signal, process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]) { UseShellExecute = false })
            ?? throw new InvalidOperationException("could not run kill");
        await kill.WaitForExitAsync();
    }

    private static LocalServer Launch(IEnumerable<string> arguments, IReadOnlyDictionary<string, string> environment, string workingDirectory, int grpcPort, int httpPort, Action<string>? echo, bool tls, Func<HttpMessageHandler>? httpHandler)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in environment)
        {
            info.Environment[name] = value;
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException("could not start the server");
        var server = new LocalServer(process, grpcPort, httpPort, echo, tls, httpHandler);
        process.OutputDataReceived += (_, e) => server.Append(e.Data);
        process.ErrorDataReceived += (_, e) => server.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return server;
    }

    /// <returns>Null once ready, else why not.</returns>
    private async Task<string?> WaitReadyAsync()
    {
        using var http = new HttpClient(httpHandler?.Invoke() ?? DefaultHandler()) { Timeout = TimeSpan.FromSeconds(2) };
        var deadline = Stopwatch.GetTimestamp() + (long)(ReadyWithin.TotalSeconds * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() < deadline)
        {
            if (process.HasExited)
            {
                // Its last lines may still be on their way through the output readers: this waits for them.
                await process.WaitForExitAsync();
                return $"the server exited with {process.ExitCode}";
            }

            try
            {
                using var response = await http.GetAsync(new Uri(HttpAddress, "/readyz"));
                if (response.IsSuccessStatusCode)
                {
                    return null;
                }
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                // Not listening yet, or slow to answer on a busy machine.
            }

            await Task.Delay(100);
        }

        return $"the server was not ready within {ReadyWithin.TotalSeconds:0} s";
    }

    private HttpClientHandler DefaultHandler() => Scheme == Uri.UriSchemeHttps
        ? new HttpClientHandler { ServerCertificateCustomValidationCallback = HttpClientHandler.DangerousAcceptAnyServerCertificateValidator }
        : new HttpClientHandler();

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (output)
        {
            output.AppendLine(line);
            echo?.Invoke(line);
        }
    }
}
