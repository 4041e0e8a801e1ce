using System.Globalization;

namespace TaskBudgets.Workload;

/// <summary>The command line. Every option and its default is in <see cref="Usage"/>.</summary>
internal sealed class WorkloadOptions
{
    public const string Usage = """
        TaskBudgets workload driver: a synthetic, heavy-tailed workload through the real gRPC API,
        under the best single fixed budget per tier and then under adaptive rules.

          --workload FILE     the workload (task types, shares, need distributions).
                              default workloads/six-types.yaml
          --calls N           calls of the adaptive phase (it learns from their usage reports). default 50000
          --measure-last N    measure the adaptive phase over its last N calls. default 10000
          --fixed-calls N     calls of the fixed phase (nothing to learn: all measured). default 10000
          --phases LIST       fixed,adaptive (default) or fixed (a server without adaptive rules)
          --min-samples N     the adaptive rules' min_samples. default 200
          --adaptive-default N  what the adaptive rules grant until they have learnt. default: the fixed budget
          --hint-correlation R  send a complexity hint with every adaptive call: the normal CDF of R x the
                              call's standardised log need + sqrt(1 - R^2) x noise (0 <= R <= 1). default: no hint
          --call-features     every call (both phases) carries a phase and an estimated input size drawn from
                              the workload's call_features section, which also says how each changes its need.
                              default: no phase, 500 input tokens
          --max-attempts N    attempts per task in the adaptive phase: a call truncated on attempt k < N asks
                              again (attempt k + 1, previous stop MAX_TOKENS, the budget it exceeded). default 1
          --shift TYPE:FACTOR@CALL  from adaptive call CALL on (0-based), TYPE's need is multiplied by FACTOR
                              (e.g. coding:3@15000); the report follows that type after the change. default: none
          --seed N            the generator's seed: same seed, same calls. default 7
          --concurrency N     calls in flight. default 16
          --server URL        a running server's gRPC address; the workload's policy is applied to it
                              (as `taskbudgets apply -f`) with --key (or TASKBUDGETS_API_KEY), an admin key.
                              Default: start one here (SQLite in a temp directory, free loopback ports)
          --key KEY           admin key for --server
          --sync-interval S   the started server's Calibration:SyncInterval in seconds (how often budgets
                              are rebuilt). default: the server's (10)
          --server-dll PATH   default src/TaskBudgets.Governance/bin/Release/net10.0/TaskBudgets.Governance.dll
          --out FILE          the SVG chart. default adaptive-tradeoff.svg
          --policy-out FILE   also write the generated policy file here
        """;

    public string Workload { get; set; } = DefaultWorkload();

    public int Calls { get; set; } = 50_000;

    public int MeasureLast { get; set; } = 10_000;

    public int FixedCalls { get; set; } = 10_000;

    public bool Adaptive { get; set; } = true;

    public int MinSamples { get; set; } = 200;

    public int Seed { get; set; } = 7;

    /// <summary>Attempts per task in the adaptive phase (1: no retries).</summary>
    public int MaxAttempts { get; set; } = 1;

    public int Concurrency { get; set; } = 16;

    public string? Server { get; set; }

    public string? Key { get; set; }

    public string? ServerDll { get; set; }

    /// <summary>The adaptive rules' default budget; null for the fixed budget.</summary>
    public long? AdaptiveDefault { get; set; }

    /// <summary>R of the adaptive calls' complexity hint; null for no hint.</summary>
    public double? HintCorrelation { get; set; }

    /// <summary>Every call carries a phase and an estimated input size from the workload's call_features.</summary>
    public bool CallFeatures { get; set; }

    /// <summary>The started server's Calibration:SyncInterval; null for its default.</summary>
    public TimeSpan? SyncInterval { get; set; }

    public string Out { get; set; } = "adaptive-tradeoff.svg";

    /// <summary>A change of one type's need during the adaptive phase; null for none.</summary>
    public NeedShift? Shift { get; set; }

    public string? PolicyOut { get; set; }

    /// <summary>The offline sample the fixed budget and the curves are read from.</summary>
    public int OfflineCalls { get; set; } = 400_000;

    public static WorkloadOptions Parse(string[] args, Func<string, string?> env)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(env);
        var o = new WorkloadOptions { Key = env("TASKBUDGETS_API_KEY") };
        for (var i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            int Count(int min)
            {
                var flag = args[i];
                return int.TryParse(Value(), NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= min ? n : throw new ArgumentException($"{flag} must be a whole number >= {min}");
            }

            switch (args[i])
            {
                case "--workload": o.Workload = Value(); break;
                case "--calls": o.Calls = Count(1); break;
                case "--measure-last": o.MeasureLast = Count(1); break;
                case "--fixed-calls": o.FixedCalls = Count(1); break;
                case "--min-samples": o.MinSamples = Count(1); break;
                case "--seed": o.Seed = Count(0); break;
                case "--max-attempts": o.MaxAttempts = Count(1); break;
                case "--concurrency": o.Concurrency = Count(1); break;
                case "--server": o.Server = Value(); break;
                case "--key": o.Key = Value(); break;
                case "--server-dll": o.ServerDll = Value(); break;
                case "--adaptive-default": o.AdaptiveDefault = Count(1); break;
                case "--hint-correlation":
                    o.HintCorrelation = double.TryParse(Value(), NumberStyles.Float, CultureInfo.InvariantCulture, out var r) && r is >= 0 and <= 1
                        ? r
                        : throw new ArgumentException("--hint-correlation must be between 0 and 1");
                    break;
                case "--sync-interval":
                    o.SyncInterval = double.TryParse(Value(), NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) && seconds is >= 0.1 and <= 3600
                        ? TimeSpan.FromSeconds(seconds)
                        : throw new ArgumentException("--sync-interval must be seconds between 0.1 and 3600");
                    break;
                case "--call-features": o.CallFeatures = true; break;
                case "--shift": o.Shift = NeedShift.Parse(Value()); break;
                case "--out": o.Out = Value(); break;
                case "--policy-out": o.PolicyOut = Value(); break;
                case "--phases":
                    var phases = Value().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                    if (!phases.Contains("fixed") || phases.Any(p => p is not ("fixed" or "adaptive")))
                    {
                        throw new ArgumentException("--phases must be fixed or fixed,adaptive");
                    }

                    o.Adaptive = phases.Contains("adaptive");
                    break;
                default: throw new ArgumentException($"unknown option {args[i]}");
            }
        }

        if (o.MeasureLast > o.Calls)
        {
            throw new ArgumentException("--measure-last must be at most --calls");
        }

        if (o.Shift is { } shift && (!o.Adaptive || shift.FromCall >= o.Calls))
        {
            throw new ArgumentException("--shift needs the adaptive phase and a CALL below --calls");
        }

        if (o.Server is not null && o.SyncInterval is not null)
        {
            throw new ArgumentException("--sync-interval is for a server started here; set Calibration:SyncInterval on --server's own");
        }

        if (o.Server is not null && string.IsNullOrEmpty(o.Key))
        {
            throw new ArgumentException("--server needs an admin key: --key or TASKBUDGETS_API_KEY");
        }

        return o;
    }

    /// <summary>workloads/six-types.yaml beside the program (copied there by the build).</summary>
    private static string DefaultWorkload() => Path.Combine(AppContext.BaseDirectory, "workloads", "six-types.yaml");
}
