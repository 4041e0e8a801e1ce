using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using TaskBudgets.Client;
using TaskBudgets.Testing;

// dotnet run -c Release --project tests/TaskBudgets.GatewayBench -- [--seconds 8] [--concurrency 16]
// Phases, each after a warm-up: an Anthropic Messages call straight to the stub and through the
// gateway (plain JSON, then a stream timed to its first byte and to its end), and GetBudget alone
// through the SDK, the call the gateway makes before it forwards.
var seconds = Option(args, "--seconds", 8);
var concurrency = Option(args, "--concurrency", 16);
var configuration = "Release";
var work = Directory.CreateTempSubdirectory("tb-gateway-bench-").FullName;
var adminKey = "tb_" + Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
var policy = Path.Combine(work, "policy.yaml");
await File.WriteAllTextAsync(policy, """
    models:
      - { name: claude-bench, family: anthropic, thinking: budget, input_usd_per_mtok: 3, output_usd_per_mtok: 15 }
    tiers:
      - name: standard
        rules:
          - { task_type: "*", min_reasoning_tokens: 1024, default_reasoning_tokens: 2048, max_reasoning_tokens: 8192, answer_tokens: 1024, max_output_tokens: 16384, effort: medium }
    orgs:
      - { id: bench, tier: standard }
    """);

Console.Error.WriteLine("starting the governance service, the stub upstream and the gateway ...");
await using var service = await LocalServer.StartAsync(LocalServer.BuiltAssembly(configuration), work, new Dictionary<string, string>
{
    ["Policy:File"] = policy,
    ["Storage:DataDirectory"] = work,
    ["Auth:AdminKey"] = adminKey,
    ["Auth:RequestsPerSecond"] = "1000000",
    ["Auth:RequestBurst"] = "1000000",
    ["Logging:LogLevel:Default"] = "Warning",
});
await using var stub = await StubUpstream.StartAsync();
using var gateway = await GatewayProcess.StartAsync(configuration, service.GrpcAddress, stub.BaseAddress);

using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 1024, UseProxy = false }) { Timeout = TimeSpan.FromSeconds(30) };
var plainBody = """{"model":"claude-bench","max_tokens":4000,"messages":[{"role":"user","content":"Say hello."}]}""";
var streamBody = """{"model":"claude-bench","max_tokens":4000,"stream":true,"messages":[{"role":"user","content":"Say hello."}]}""";
HttpRequestMessage Call(Uri target, string body, bool governed)
{
    var request = new HttpRequestMessage(HttpMethod.Post, new Uri(target, "/v1/messages")) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
    request.Headers.Add("x-api-key", governed ? adminKey : "stub-key");
    request.Headers.Add("anthropic-version", "2023-06-01");
    request.Headers.Add("x-taskbudgets-org", "bench");
    return request;
}

async Task<(long FirstByte, long Total)> SendAsync(Uri target, string body, bool governed)
{
    var start = Stopwatch.GetTimestamp();
    using var request = Call(target, body, governed);
    using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
    response.EnsureSuccessStatusCode();
    await using var stream = await response.Content.ReadAsStreamAsync();
    var buffer = new byte[8192];
    var read = await stream.ReadAsync(buffer);
    var firstByte = Stopwatch.GetTimestamp() - start;
    while (read > 0)
    {
        read = await stream.ReadAsync(buffer);
    }

    return (firstByte, Stopwatch.GetTimestamp() - start);
}

var budgets = new ServiceCollection()
    .AddTaskBudgetsClient(o => { o.Address = service.GrpcAddress; o.ApiKey = adminKey; o.OrgId = "bench"; })
    .Services.BuildServiceProvider().GetRequiredService<IBudgetClient>();
async Task<(long FirstByte, long Total)> GetBudgetAsync()
{
    var start = Stopwatch.GetTimestamp();
    var grant = await budgets.AcquireAsync(new BudgetRequest { TaskType = "support", Model = "claude-bench" });
    var took = Stopwatch.GetTimestamp() - start;
    await grant.ReportAsync(new Usage(25, 150));
    return (took, took);
}

var phases = new (string Name, Func<Task<(long, long)>> Call, bool Gateway)[]
{
    ("stub, plain", () => SendAsync(stub.BaseAddress, plainBody, false), false),
    ("gateway, plain", () => SendAsync(gateway.Address, plainBody, true), true),
    ("stub, stream", () => SendAsync(stub.BaseAddress, streamBody, false), false),
    ("gateway, stream", () => SendAsync(gateway.Address, streamBody, true), true),
    ("GetBudget + report (SDK)", GetBudgetAsync, false),
};

Console.WriteLine($"{concurrency} closed-loop callers, {seconds} s a phase after {Math.Max(2, seconds / 4)} s of warm-up of each, {Environment.ProcessorCount} cores");
Console.WriteLine();
Console.WriteLine("| phase | calls/s | p50 ms | p99 ms | first byte p50 ms | first byte p99 ms | gateway CPU µs/call | service CPU µs/call |");
Console.WriteLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");

// Every path is warmed (JIT, tiering, connection pools, the service's leases) before any is measured.
foreach (var (_, call, _) in phases)
{
    await Loop.RunAsync(call, concurrency, TimeSpan.FromSeconds(Math.Max(2, seconds / 4)));
}

foreach (var (name, call, viaGateway) in phases)
{
    var gatewayCpu = await Cpu.SecondsAsync(http, gateway.Address);
    var serviceCpu = await Cpu.SecondsAsync(http, service.HttpAddress);
    var result = await Loop.RunAsync(call, concurrency, TimeSpan.FromSeconds(seconds));
    var gatewayUs = (await Cpu.SecondsAsync(http, gateway.Address) - gatewayCpu) * 1e6 / result.Calls;
    var serviceUs = (await Cpu.SecondsAsync(http, service.HttpAddress) - serviceCpu) * 1e6 / result.Calls;
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"| {name} | {result.Calls / result.Seconds:F0} | {result.Total(50):F2} | {result.Total(99):F2} | {result.FirstByte(50):F2} | {result.FirstByte(99):F2} | {(viaGateway ? gatewayUs.ToString("F0", CultureInfo.InvariantCulture) : "-")} | {serviceUs:F0} |"));
}

return 0;

static int Option(string[] args, string name, int fallback)
{
    var at = Array.IndexOf(args, name);
    return at >= 0 && at + 1 < args.Length ? int.Parse(args[at + 1], CultureInfo.InvariantCulture) : fallback;
}

/// <summary>Closed loop: each caller sends its next call when its last one has answered.</summary>
internal static class Loop
{
    public sealed record Result(long Calls, double Seconds, long[] FirstBytes, long[] Totals)
    {
        public double FirstByte(int percentile) => Percentile(FirstBytes, percentile);

        public double Total(int percentile) => Percentile(Totals, percentile);

        private static double Percentile(long[] sorted, int percentile) =>
            sorted.Length == 0 ? 0 : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(percentile / 100.0 * sorted.Length) - 1)] * 1000.0 / Stopwatch.Frequency;
    }

    public static async Task<Result> RunAsync(Func<Task<(long FirstByte, long Total)>> call, int concurrency, TimeSpan duration)
    {
        var end = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        var started = Stopwatch.GetTimestamp();
        var callers = Enumerable.Range(0, concurrency).Select(async _ =>
        {
            var mine = new List<(long, long)>();
            while (Stopwatch.GetTimestamp() < end)
            {
                mine.Add(await call());
            }

            return mine;
        }).ToList();
        var all = (await Task.WhenAll(callers)).SelectMany(c => c).ToList();
        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        return new Result(all.Count, seconds, [.. all.Select(a => a.Item1).Order()], [.. all.Select(a => a.Item2).Order()]);
    }
}

/// <summary>A process's CPU seconds from its /metrics (dotnet_process_cpu_time_seconds_total, all modes).</summary>
internal static class Cpu
{
    public static async Task<double> SecondsAsync(HttpClient http, Uri address)
    {
        var text = await http.GetStringAsync(new Uri(address, "/metrics"));
        return text.Split('\n')
            .Where(l => l.StartsWith("dotnet_process_cpu_time_seconds_total", StringComparison.Ordinal))
            .Sum(l => double.Parse(l[(l.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture));
    }
}

/// <summary>The built gateway as a process, on a free loopback port, in front of the stub.</summary>
internal sealed class GatewayProcess : IDisposable
{
    private readonly Process process;

    private GatewayProcess(Process process, Uri address)
    {
        this.process = process;
        Address = address;
    }

    public Uri Address { get; }

    public static async Task<GatewayProcess> StartAsync(string configuration, Uri service, Uri upstream)
    {
        var dll = Path.Combine(Repository.Root, "src", "TaskBudgets.Gateway", "bin", configuration, "net10.0", "TaskBudgets.Gateway.dll");
        var port = FreePort.Next();
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in new[]
        {
            dll, "--TaskBudgets:Address=" + service, "--Gateway:ListenAddress=127.0.0.1", "--Gateway:Port=" + port.ToString(CultureInfo.InvariantCulture),
            "--Gateway:Anthropic:UpstreamBaseUrl=" + upstream, "--Gateway:Anthropic:ApiKey=stub-key",
            "--Gateway:OpenAi:Enabled=false", "--Gateway:Gemini:Enabled=false", "--Logging:LogLevel:Default=Warning",
        })
        {
            info.ArgumentList.Add(argument);
        }

        var process = Process.Start(info)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { Console.Error.WriteLine("gateway: " + e.Data); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var address = new Uri($"http://127.0.0.1:{port}");
        using var http = new HttpClient();
        for (var deadline = DateTime.UtcNow.AddSeconds(60); ; await Task.Delay(200))
        {
            try
            {
                if ((await http.GetAsync(new Uri(address, "/readyz"))).IsSuccessStatusCode)
                {
                    return new GatewayProcess(process, address);
                }
            }
            catch (HttpRequestException) when (DateTime.UtcNow < deadline && !process.HasExited)
            {
            }

            if (DateTime.UtcNow > deadline || process.HasExited)
            {
                throw new InvalidOperationException("The gateway did not become ready.");
            }
        }
    }

    public void Dispose()
    {
        process.Kill(entireProcessTree: true);
        process.Dispose();
    }
}

/// <summary>An Anthropic Messages upstream that answers at once: a message, or a stream of seven events.</summary>
internal sealed class StubUpstream : IAsyncDisposable
{
    private const string Message = """{"id":"msg_stub","type":"message","role":"assistant","model":"claude-bench","content":[{"type":"text","text":"Hello there."}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":25,"output_tokens":150}}""";
    private static readonly string Events = string.Concat(
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_stub\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-bench\",\"content\":[],\"stop_reason\":null,\"usage\":{\"input_tokens\":25,\"output_tokens\":1}}}\n\n",
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hello there.\"}}\n\n",
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":150}}\n\n",
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");

    private readonly WebApplication app;

    private StubUpstream(WebApplication app, Uri address)
    {
        this.app = app;
        BaseAddress = address;
    }

    public Uri BaseAddress { get; }

    public static async Task<StubUpstream> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        var port = FreePort.Next();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, port));
        var app = builder.Build();
        app.MapPost("/v1/messages", async (HttpContext context) =>
        {
            using var reader = new StreamReader(context.Request.Body);
            var body = await reader.ReadToEndAsync();
            if (body.Contains("\"stream\":true", StringComparison.Ordinal))
            {
                context.Response.ContentType = "text/event-stream";
                await context.Response.WriteAsync(Events);
            }
            else
            {
                context.Response.ContentType = "application/json";
                await context.Response.WriteAsync(Message);
            }
        });
        await app.StartAsync();
        return new StubUpstream(app, new Uri($"http://127.0.0.1:{port}"));
    }

    public async ValueTask DisposeAsync() => await app.DisposeAsync();
}
