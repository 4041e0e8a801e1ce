using System.Net;
using System.Text.Json;
using Grpc.Core;
using Grpc.Net.Client;
using TaskBudgets.LoadTest;

// dotnet run -c Release --project tests/TaskBudgets.LoadTest -- --start-server sqlite --mode budget --baseline
if (args.Contains("--help") || args.Contains("-h"))
{
    Console.WriteLine(LoadOptions.Usage);
    return 0;
}

LoadOptions options;
try
{
    options = LoadOptions.Parse(args);
}
catch (Exception e) when (e is ArgumentException or FormatException or UriFormatException)
{
    Console.Error.WriteLine(e.Message);
    Console.Error.WriteLine();
    Console.Error.WriteLine(LoadOptions.Usage);
    return 2;
}

if (options.WritePolicy is { } policyFile)
{
    await File.WriteAllTextAsync(policyFile, LoadPolicy.Yaml(options.Orgs));
    Console.Error.WriteLine($"wrote a load policy with {options.Orgs} orgs to {policyFile}");
    return 0;
}

// Progress on stderr; the report (text or JSON) alone on stdout.
var log = Console.Error;
ServerHost? host = null;
try
{
    host = options.StartServer is null ? null : await ServerHost.StartAsync(options, log);
}
catch (Exception e) when (e is InvalidOperationException or FileNotFoundException)
{
    // The server's own words (e.g. its "Configuration error" line) are in the message.
    await log.WriteLineAsync("could not start the server: " + e.Message);
    return 1;
}

await using var started = host;
var grpcAddress = started?.GrpcAddress ?? options.Address!;
var metricsAddress = options.Metrics ?? started?.HttpAddress ?? new UriBuilder(grpcAddress) { Port = 8081 }.Uri;
using var metrics = new MetricsScraper(metricsAddress);
if (await metrics.CpuSecondsAsync() is null)
{
    await log.WriteLineAsync($"note: no /metrics at {metricsAddress}; server CPU is not reported (--metrics URL)");
}

var apiKey = options.ApiKey ?? Environment.GetEnvironmentVariable("TASKBUDGETS_API_KEY");
if (apiKey is null && started is not null && File.Exists(Path.Combine(started.Directory, "admin-key")))
{
    apiKey = (await File.ReadAllTextAsync(Path.Combine(started.Directory, "admin-key"))).Trim();
}

var headers = apiKey is null ? null : new Metadata { { "authorization", "Bearer " + apiKey } };
var channels = Enumerable.Range(0, options.Connections).Select(_ => GrpcChannel.ForAddress(grpcAddress, new GrpcChannelOptions
{
    HttpHandler = new SocketsHttpHandler
    {
        EnableMultipleHttp2Connections = true,
        PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
        KeepAlivePingDelay = TimeSpan.FromSeconds(60),
    },
    HttpVersion = HttpVersion.Version20,
})).ToList();
try
{
    var invokers = channels.Select(c => c.CreateCallInvoker()).ToArray();
    var workload = new Workload(options, invokers, headers);
    var server = started is null ? $"{grpcAddress} (external)" : started.Description;
    var machine = Machine.Describe();
    var canScrape = await metrics.CpuSecondsAsync() is not null;
    var loadBefore = Machine.LoadAverage();
    RunInfo Run() => new(server, machine, loadBefore, Machine.LoadAverage(), workload.BaselineAnswers);

    if (options.Mode == LoadMode.Memory)
    {
        if (!canScrape)
        {
            await log.WriteLineAsync($"memory mode reads the server's /metrics: none at {metricsAddress} (--metrics URL)");
            return 1;
        }

        var drain = started is not null ? TimeSpan.FromSeconds((options.GrantTtl ?? TimeSpan.FromSeconds(5)).TotalSeconds + 3) : (TimeSpan?)null;
        var memory = await MemoryRun.RunAsync(options, workload, metrics, drain, log);
        Report.Memory(options, Run(), memory, Console.Out);
        return 0;
    }

    var targetName = options.Mode == LoadMode.Budget ? "GetBudget" : "cycle";
    PhaseResult? baseline = null;
    PhaseResult? target = null;
    var roundRatios = new List<double>();
    for (var round = 0; round < options.Rounds; round++)
    {
        PhaseResult? b = null;
        if (options.Baseline)
        {
            // Against full cycles, a baseline operation is two no-op calls, as a cycle is two RPCs.
            b = await ClosedLoop.RunAsync(
                "baseline",
                options.Concurrency,
                options.WarmupTime,
                options.MeasuredDuration,
                options.Mode == LoadMode.Budget ? i => workload.Baseline(i) : i => workload.Baseline(i, calls: 2),
                canScrape ? metrics : null,
                log);
            if (baseline is null)
            {
                baseline = b;
            }
            else
            {
                baseline.Add(b);
            }
        }

        var t = await ClosedLoop.RunAsync(
            targetName,
            options.Concurrency,
            options.WarmupTime,
            options.MeasuredDuration,
            options.Mode == LoadMode.Budget ? workload.GetBudgetOnly : i => workload.Cycle(i),
            canScrape ? metrics : null,
            log);
        if (b is { Throughput: > 0 })
        {
            roundRatios.Add(t.Throughput / b.Throughput);
        }

        if (target is null)
        {
            target = t;
        }
        else
        {
            target.Add(t);
        }
    }

    Report.Phases(options, Run(), baseline, target!, roundRatios, Console.Out);
    return target!.Ok > 0 ? 0 : 1;
}
finally
{
    foreach (var channel in channels)
    {
        channel.Dispose();
    }
}
