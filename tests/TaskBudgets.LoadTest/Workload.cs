using System.Globalization;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Grpc.Health.V1;
using TaskBudgets.V1;

namespace TaskBudgets.LoadTest;

/// <summary>What one worker of the closed loop keeps: its own histograms and counts, merged at the end.</summary>
internal sealed class WorkerStats
{
    public LatencyHistogram Total { get; } = new();

    public Dictionary<string, LatencyHistogram> Stages { get; } = new(StringComparer.Ordinal);

    public Dictionary<string, long> Errors { get; } = new(StringComparer.Ordinal);

    public void RecordStage(string stage, long ticks)
    {
        if (!Stages.TryGetValue(stage, out var histogram))
        {
            Stages[stage] = histogram = new LatencyHistogram();
        }

        histogram.RecordTicks(ticks);
    }

    public void CountError(string key) => Errors[key] = Errors.GetValueOrDefault(key) + 1;
}

/// <summary>One operation of the closed loop: null when it succeeded, else an error key such as "GetBudget ResourceExhausted".</summary>
/// <param name="stats">The worker's stats, for per-stage latencies.</param>
/// <param name="recording">Whether the call falls in the measured window (stage latencies are kept only then).</param>
internal delegate Task<string?> LoadOperation(WorkerStats stats, bool recording);

/// <summary>
/// The calls a caller makes: GetBudget for an org, principal and task type drawn from the mix,
/// the model call simulated (it uses 60 % of the reasoning budget), ReportUsage.
/// </summary>
internal sealed class Workload(LoadOptions options, IReadOnlyList<CallInvoker> invokers, Metadata? headers)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);
    private readonly IReadOnlyList<string> orgs = options.OrgIdList;
    private readonly string[] taskTypes = options.TaskMix.SelectMany(m => Enumerable.Repeat(m.TaskType, m.Weight)).ToArray();
    private readonly string[] principals = Enumerable.Range(0, options.Principals).Select(i => "user-" + i.ToString(CultureInfo.InvariantCulture)).ToArray();
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, long> baselineAnswers = new(StringComparer.Ordinal);
    private long sequence;
    private long grantsIssued;
    private long grantsSettled;
    private long grantsLeftToExpire;

    /// <summary>The serving statuses the health check answered in the baseline, with counts.</summary>
    public IReadOnlyDictionary<string, long> BaselineAnswers => baselineAnswers;

    public long GrantsIssued => Interlocked.Read(ref grantsIssued);

    public long GrantsSettled => Interlocked.Read(ref grantsSettled);

    public long GrantsLeftToExpire => Interlocked.Read(ref grantsLeftToExpire);

    private BudgetService.BudgetServiceClient Budgets(int worker) => new(invokers[worker % invokers.Count]);

    private CallOptions Call() => new(headers, DateTime.UtcNow + Deadline);

    /// <summary>
    /// grpc.health.v1.Health/Check (liveness): the server's cheapest RPC, the no-op baseline;
    /// <paramref name="calls"/> of them one after another per operation (2 against a full cycle's two RPCs).
    /// </summary>
    public LoadOperation Baseline(int worker, int calls = 1)
    {
        var client = new Health.HealthClient(invokers[worker % invokers.Count]);
        var request = new HealthCheckRequest();
        return async (_, _) =>
        {
            try
            {
                for (var call = 0; call < calls; call++)
                {
                    var response = await client.CheckAsync(request, Call());

                    // A completed round trip is what the baseline measures, whatever status it reports
                    // (the server's "" service answers UNKNOWN today: no health check is mapped to it).
                    baselineAnswers.AddOrUpdate(response.Status.ToString(), 1, (_, n) => n + 1);
                }

                return null;
            }
            catch (RpcException e)
            {
                return "Health " + e.StatusCode;
            }
        };
    }

    /// <summary>One cycle's answers, for the bare server to give back as its own.</summary>
    public async Task<(GetBudgetResponse Budget, ReportUsageResponse Receipt)> SampleAsync()
    {
        var client = Budgets(0);
        var request = NextRequest(new Random(1), requestId: false);
        var budget = await client.GetBudgetAsync(request, Call());
        var receipt = await client.ReportUsageAsync(Report(budget, request), Call());
        return (budget, receipt);
    }

    public LoadOperation GetBudgetOnly(int worker)
    {
        var client = Budgets(worker);
        var random = new Random(worker * 7919);
        return async (_, _) =>
        {
            try
            {
                await client.GetBudgetAsync(NextRequest(random, options.RequestIds), Call());
                Interlocked.Increment(ref grantsIssued);
                return null;
            }
            catch (RpcException e)
            {
                return "GetBudget " + e.StatusCode;
            }
        };
    }

    /// <summary>GetBudget then ReportUsage; in memory mode a share of grants is left unreported, to expire.</summary>
    public LoadOperation Cycle(int worker, double expireShare = 0)
    {
        var client = Budgets(worker);
        var random = new Random(worker * 7919);
        return async (stats, recording) =>
        {
            var request = NextRequest(random, options.RequestIds || options.Mode == LoadMode.Memory);
            GetBudgetResponse grant;
            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            try
            {
                grant = await client.GetBudgetAsync(request, Call());
                Interlocked.Increment(ref grantsIssued);
            }
            catch (RpcException e)
            {
                return "GetBudget " + e.StatusCode;
            }

            var granted = System.Diagnostics.Stopwatch.GetTimestamp();
            if (recording)
            {
                stats.RecordStage("GetBudget", granted - started);
            }

            if (expireShare > 0 && random.NextDouble() < expireShare)
            {
                Interlocked.Increment(ref grantsLeftToExpire);
                return null;
            }

            try
            {
                await client.ReportUsageAsync(Report(grant, request), Call());
                Interlocked.Increment(ref grantsSettled);
            }
            catch (RpcException e)
            {
                return "ReportUsage " + e.StatusCode;
            }

            if (recording)
            {
                stats.RecordStage("ReportUsage", System.Diagnostics.Stopwatch.GetTimestamp() - granted);
            }

            return null;
        };
    }

    private GetBudgetRequest NextRequest(Random random, bool requestId)
    {
        var n = Interlocked.Increment(ref sequence);
        var request = new GetBudgetRequest
        {
            OrgId = orgs[random.Next(orgs.Count)],
            PrincipalId = principals[random.Next(principals.Length)],
            TaskType = taskTypes[random.Next(taskTypes.Length)],
            Model = options.Model,
            Features = new TaskFeatures
            {
                EstimatedInputTokens = random.Next(500, 4_000),
                Complexity = Math.Round(random.NextDouble(), 2),
                Attempt = 1,
            },
        };
        if (requestId)
        {
            request.RequestId = "rq-" + n.ToString(CultureInfo.InvariantCulture);
        }

        if (options.TaskShare > 0 && random.NextDouble() < options.TaskShare)
        {
            // Loops of about five calls each: the same task_id for five consecutive draws of this share.
            request.TaskId = "task-" + (n / 5).ToString(CultureInfo.InvariantCulture);
        }

        return request;
    }

    private static ReportUsageRequest Report(GetBudgetResponse grant, GetBudgetRequest request)
    {
        var reasoning = grant.Budget.ReasoningTokens * 6 / 10;
        var output = Math.Min(grant.Budget.MaxOutputTokens, reasoning + 400);
        return new ReportUsageRequest
        {
            GrantId = grant.GrantId,
            Usage = new UsageTokens
            {
                InputTokens = request.Features.EstimatedInputTokens,
                OutputTokens = output,
                ReasoningTokens = Math.Min(reasoning, output),
            },
            StopReason = StopReason.EndTurn,
            Outcome = Outcome.Success,
            Latency = Duration.FromTimeSpan(TimeSpan.FromMilliseconds(1_500)),
        };
    }
}
