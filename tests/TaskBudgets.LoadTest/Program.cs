using System.Net;
using System.Text.Json;
using Grpc.Core;
using Grpc.Net.Client;
using TaskBudgets.LoadTest;

// dotnet run -c Release --project tests/TaskBudgets.LoadTest -- --start-server sqlite --mode budget --baseline
if (args.Length > 0 && args[0] == BareServer.Flag)
{
    return await BareServer.RunAsync(args[1..]);
}

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
List<GrpcChannel> Channels(Uri address) => Enumerable.Range(0, options.Connections).Select(_ => GrpcChannel.ForAddress(address, new GrpcChannelOptions
{
    HttpHandler = new SocketsHttpHandler
    {
        EnableMultipleHttp2Connections = true,
        PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
        KeepAlivePingDelay = TimeSpan.FromSeconds(60),
    },
    HttpVersion = HttpVersion.Version20,
})).ToList();
var channels = Channels(grpcAddress);
BareHost? bare = null;
try
{
    var invokers = channels.Select(c => c.CreateCallInvoker()).ToArray();
    var workload = new Workload(options, invokers, headers);
    Workload? bareWorkload = null;
    if (options.Baseline && options.Mode != LoadMode.Memory)
    {
        // The bare server answers with the real server's own replies: the same bytes, no work.
        var (budget, receipt) = await workload.SampleAsync();
        bare = await BareHost.StartAsync(budget, receipt);
        await log.WriteLineAsync($"bare server ready: gRPC {bare.GrpcAddress}, pid {bare.ProcessId}; replies of {budget.CalculateSize()} and {receipt.CalculateSize()} bytes");
        var bareChannels = Channels(bare.GrpcAddress);
        channels.AddRange(bareChannels);
        bareWorkload = new Workload(options, bareChannels.Select(c => c.CreateCallInvoker()).ToArray(), headers);
    }

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
    var phases = new List<(string Name, Func<int, LoadOperation> Operations, IServerCounters? Counters)>();
    if (bareWorkload is not null)
    {
        phases.Add(("bare", options.Mode == LoadMode.Budget ? bareWorkload.GetBudgetOnly : i => bareWorkload.Cycle(i), bare));
    }

    if (options.Baseline)
    {
        // Against full cycles, a health operation is two calls, as a cycle is two RPCs.
        phases.Add(("health", options.Mode == LoadMode.Budget ? i => workload.Baseline(i) : i => workload.Baseline(i, calls: 2), canScrape ? metrics : null));
    }

    phases.Add((targetName, options.Mode == LoadMode.Budget ? workload.GetBudgetOnly : i => workload.Cycle(i), canScrape ? metrics : null));
    var merged = new Dictionary<string, PhaseResult>(StringComparer.Ordinal);
    var rounds = new List<IReadOnlyDictionary<string, PhaseResult>>();
    for (var round = 0; round < options.Rounds; round++)
    {
        var thisRound = new Dictionary<string, PhaseResult>(StringComparer.Ordinal);
        foreach (var (name, operations, counters) in phases)
        {
            var result = await ClosedLoop.RunAsync(
                name,
                options.Concurrency,
                round == 0 ? options.WarmupTime : options.RoundWarmupTime,
                options.MeasuredDuration,
                operations,
                counters,
                log);
            thisRound[name] = result;
            if (merged.TryGetValue(name, out var sum))
            {
                sum.Add(result);
            }
            else
            {
                merged[name] = result;
            }
        }

        rounds.Add(thisRound);
    }

    Report.Phases(options, Run(), phases.Select(p => merged[p.Name]).ToList(), rounds, Console.Out);
    return merged[targetName].Ok > 0 ? 0 : 1;
}
finally
{
    if (bare is not null)
    {
        await bare.DisposeAsync();
    }

    foreach (var channel in channels)
    {
        channel.Dispose();
    }
}
