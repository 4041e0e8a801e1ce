using System.Globalization;

namespace TaskBudgets.LoadTest;

internal enum LoadMode
{
    /// <summary>GetBudget only.</summary>
    Budget,

    /// <summary>GetBudget then ReportUsage: one full cycle with a durable report.</summary>
    Cycle,

    /// <summary>Many grants, settled or left to expire, while the server's memory is sampled.</summary>
    Memory,
}

/// <summary>The command line. Every option and its default is in <see cref="Usage"/>.</summary>
internal sealed class LoadOptions
{
    public const string Usage = """
        TaskBudgets load generator: closed-loop gRPC load against a TaskBudgets Governance server.

        Target (one of):
          --address URL            a running server's gRPC address, e.g. http://127.0.0.1:8080
          --start-server KIND      sqlite | postgresql: start one here (loopback, free ports, a throwaway
                                   data directory; for postgresql a throwaway cluster from
                                   /usr/lib/postgresql/*/bin, run as the postgres user when root)

        Load:
          --mode MODE              budget (GetBudget only) | cycle (GetBudget + ReportUsage) |
                                   memory (many grants, settled or expiring; samples the server's memory)
                                   default: budget
          --concurrency N          calls in flight at any time (closed loop). default 64
          --duration T             measured time: 15, 15s, 2m. default 15s
          --warmup T               unmeasured time before each phase (after 20 s single GetBudget/baseline
                                   rounds still ranged 0.54-1.10x; after 60 s, 0.71-0.77x). default 60s
                                   (memory mode: samples before it are left out, default 20s)
          --round-warmup T         warm-up before each phase of the second and later rounds. default 15s
          --rounds N               repeat (bare, health, target) N times, interleaved, and merge; each
                                   round's own ratios are printed too. default 1
          --baseline               also run two baselines at the same concurrency and duration, and
                                   print the ratios: "bare", a minimal Kestrel gRPC server the generator
                                   starts itself (no middleware, no logging) answering the same calls
                                   with the real server's own replies, and "health", the server's
                                   grpc.health.v1.Health/Check; against cycles each baseline operation
                                   is two calls (a cycle is two RPCs)
          --connections N          HTTP/2 connections (one GrpcChannel each). default 4
          --orgs N                 orgs to spread calls over (load-0 .. load-N-1). default 10
          --org-ids A,B            use these org ids instead (e.g. demo for the sample policy)
          --principals N           principals per org (each has its own per-principal quota). default 8
          --task-mix SPEC          task types and weights. default classification:5,support:3,research:2
          --model NAME             default claude-sonnet-4-5
          --task-share X           share of calls that belong to an agentic loop (carry a task_id). default 0
          --request-ids            send a unique request_id with every GetBudget (memory mode always does)
          --api-key KEY            sent as authorization: Bearer KEY. default: TASKBUDGETS_API_KEY, or
                           a started server's own admin key

        Memory mode:
          --grants N               grants to issue. default 200000 (stops earlier at --duration, default 180s there)
          --expire-share X         share of grants left unreported to expire. default 0.1
          --metrics URL            the server's HTTP port for /metrics (default: started server's, or
                                   the --address host on port 8081)
          --sample-interval T      default 2s

        Started server:
          --grant-ttl T            Grants:Ttl for the started server (memory mode default 5s, else the server's 10m)
          --pg-fsync on|off        PostgreSQL fsync (default on: durable commits, as in production)
          --server-arg KEY=VALUE   extra server setting, repeatable (e.g. Reports:MaxBatchSize=1024)
          --server-dll PATH        default src/TaskBudgets.Governance/bin/Release/net10.0/TaskBudgets.Governance.dll
          --keep-data              keep the data directory (and its server.log)
          --write-policy FILE      write the load policy (--orgs N) to FILE and exit

        Output:
          --json                   one JSON document on stdout (progress goes to stderr)
        """;

    public Uri? Address { get; set; }

    public string? StartServer { get; set; }

    public LoadMode Mode { get; set; } = LoadMode.Budget;

    public int Concurrency { get; set; } = 64;

    public TimeSpan? Duration { get; set; }

    public TimeSpan? Warmup { get; set; }

    public TimeSpan? RoundWarmup { get; set; }

    public int Rounds { get; set; } = 1;

    public bool Baseline { get; set; }

    public int Connections { get; set; } = 4;

    public int Orgs { get; set; } = 10;

    public IReadOnlyList<string>? OrgIds { get; set; }

    public int Principals { get; set; } = 8;

    public IReadOnlyList<(string TaskType, int Weight)> TaskMix { get; set; } = ParseMix("classification:5,support:3,research:2");

    public string Model { get; set; } = "claude-sonnet-4-5";

    public double TaskShare { get; set; }

    public bool RequestIds { get; set; }

    public string? ApiKey { get; set; }

    public long Grants { get; set; } = 200_000;

    public double ExpireShare { get; set; } = 0.1;

    public Uri? Metrics { get; set; }

    public TimeSpan SampleInterval { get; set; } = TimeSpan.FromSeconds(2);

    public TimeSpan? GrantTtl { get; set; }

    public bool PostgresFsync { get; set; } = true;

    public List<KeyValuePair<string, string>> ServerArgs { get; } = [];

    public string? ServerDll { get; set; }

    public bool KeepData { get; set; }

    public string? WritePolicy { get; set; }

    public bool Json { get; set; }

    /// <summary>The measured time: --duration, else 15 s (180 s as the cap of a memory run).</summary>
    public TimeSpan MeasuredDuration => Duration ?? (Mode == LoadMode.Memory ? TimeSpan.FromSeconds(180) : TimeSpan.FromSeconds(15));

    /// <summary>
    /// The unmeasured time before each phase: --warmup, else 60 s (20 s of a memory run's samples).
    /// After 20 s, single GetBudget/baseline rounds ranged 0.54-1.10x; after 60 s, 0.71-0.77x.
    /// </summary>
    public TimeSpan WarmupTime => Warmup ?? (Mode == LoadMode.Memory ? TimeSpan.FromSeconds(20) : TimeSpan.FromSeconds(60));

    /// <summary>The warm-up of the second and later rounds: the processes have compiled their code by then.</summary>
    public TimeSpan RoundWarmupTime => RoundWarmup ?? TimeSpan.FromSeconds(15);

    public IReadOnlyList<string> OrgIdList => OrgIds ?? Enumerable.Range(0, Orgs).Select(LoadPolicy.OrgId).ToArray();

    /// <summary>Parses the command line; throws <see cref="ArgumentException"/> with a message for the user.</summary>
    public static LoadOptions Parse(string[] args)
    {
        var o = new LoadOptions();
        for (var i = 0; i < args.Length; i++)
        {
            var name = args[i];
            string Value()
            {
                if (i + 1 >= args.Length)
                {
                    throw new ArgumentException($"{name} needs a value");
                }

                return args[++i];
            }

            switch (name)
            {
                case "--address": o.Address = new Uri(Value()); break;
                case "--start-server":
                    o.StartServer = Value().ToLowerInvariant();
                    if (o.StartServer is not ("sqlite" or "postgresql"))
                    {
                        throw new ArgumentException("--start-server is sqlite or postgresql");
                    }

                    break;
                case "--mode": o.Mode = Enum.Parse<LoadMode>(Value(), ignoreCase: true); break;
                case "--concurrency": o.Concurrency = PositiveInt(name, Value()); break;
                case "--duration": o.Duration = ParseTime(name, Value()); break;
                case "--warmup": o.Warmup = ParseTime(name, Value()); break;
                case "--round-warmup": o.RoundWarmup = ParseTime(name, Value()); break;
                case "--rounds": o.Rounds = PositiveInt(name, Value()); break;
                case "--baseline": o.Baseline = true; break;
                case "--connections": o.Connections = PositiveInt(name, Value()); break;
                case "--orgs": o.Orgs = PositiveInt(name, Value()); break;
                case "--org-ids": o.OrgIds = Value().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries); break;
                case "--principals": o.Principals = PositiveInt(name, Value()); break;
                case "--task-mix": o.TaskMix = ParseMix(Value()); break;
                case "--model": o.Model = Value(); break;
                case "--task-share": o.TaskShare = Share(name, Value()); break;
                case "--request-ids": o.RequestIds = true; break;
                case "--api-key": o.ApiKey = Value(); break;
                case "--grants": o.Grants = PositiveInt(name, Value()); break;
                case "--expire-share": o.ExpireShare = Share(name, Value()); break;
                case "--metrics": o.Metrics = new Uri(Value()); break;
                case "--sample-interval": o.SampleInterval = ParseTime(name, Value()); break;
                case "--grant-ttl": o.GrantTtl = ParseTime(name, Value()); break;
                case "--pg-fsync": o.PostgresFsync = Value() is "on" or "true"; break;
                case "--server-arg":
                    var kv = Value().Split('=', 2);
                    if (kv.Length != 2)
                    {
                        throw new ArgumentException("--server-arg takes KEY=VALUE");
                    }

                    o.ServerArgs.Add(KeyValuePair.Create(kv[0], kv[1]));
                    break;
                case "--server-dll": o.ServerDll = Value(); break;
                case "--keep-data": o.KeepData = true; break;
                case "--write-policy": o.WritePolicy = Value(); break;
                case "--json": o.Json = true; break;
                default: throw new ArgumentException($"unknown option {name}");
            }
        }

        if (o.WritePolicy is null && (o.Address is null) == (o.StartServer is null))
        {
            throw new ArgumentException("give exactly one of --address and --start-server");
        }

        if (o.Address is { } address && !System.Net.IPAddress.TryParse(address.Host, out _) && address.Host != "localhost")
        {
            // Load goes to this machine only.
            throw new ArgumentException("--address must be a loopback address (127.0.0.1, [::1] or localhost)");
        }

        if (o.Address is { } a && System.Net.IPAddress.TryParse(a.Host, out var ip) && !System.Net.IPAddress.IsLoopback(ip))
        {
            throw new ArgumentException("--address must be a loopback address (127.0.0.1, [::1] or localhost)");
        }

        return o;
    }

    public static IReadOnlyList<(string TaskType, int Weight)> ParseMix(string spec)
    {
        var mix = new List<(string, int)>();
        foreach (var part in spec.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var pieces = part.Split(':');
            var weight = pieces.Length > 1 ? int.Parse(pieces[1], CultureInfo.InvariantCulture) : 1;
            if (weight <= 0)
            {
                throw new ArgumentException($"--task-mix: weight of {pieces[0]} must be positive");
            }

            mix.Add((pieces[0], weight));
        }

        return mix.Count > 0 ? mix : throw new ArgumentException("--task-mix names at least one task type");
    }

    public static TimeSpan ParseTime(string name, string value)
    {
        var number = value.TrimEnd('s', 'm', 'h');
        if (!double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out var amount) || amount < 0)
        {
            throw new ArgumentException($"{name}: '{value}' is not a time (15, 15s, 2m)");
        }

        return value.EndsWith('m') ? TimeSpan.FromMinutes(amount)
            : value.EndsWith('h') ? TimeSpan.FromHours(amount)
            : TimeSpan.FromSeconds(amount);
    }

    private static int PositiveInt(string name, string value) =>
        int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n > 0 ? n : throw new ArgumentException($"{name} takes a positive integer");

    private static double Share(string name, string value) =>
        double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var x) && x is >= 0 and <= 1 ? x : throw new ArgumentException($"{name} takes a number from 0 to 1");
}
