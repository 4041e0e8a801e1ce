using System.Diagnostics;
using System.Diagnostics.Metrics;
using Grpc.Core;

namespace TaskBudgets.Governance.Telemetry;

/// <summary>
/// Duration and gRPC status of every call: HTTP metrics see gRPC failures as HTTP 200, so the
/// status code is recorded here.
/// </summary>
public sealed class RpcMetrics
{
    private readonly Histogram<double> duration;

    public RpcMetrics(GovernanceMetrics metrics)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        duration = metrics.Meter.CreateHistogram<double>(
            "taskbudgets.rpc.duration",
            "s",
            "Server-side duration of gRPC calls, by method and status code.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5] });
    }

    /// <summary>The status a call that ended in <paramref name="e"/> gives its caller.</summary>
    public static StatusCode StatusOf(Exception e) => e is RpcException rpc ? rpc.StatusCode : StatusCode.Unknown;

    /// <summary>Records one call that began at <paramref name="started"/> (a <see cref="Stopwatch"/> timestamp).</summary>
    public void Record(ServerCallContext context, long started, StatusCode status)
    {
        ArgumentNullException.ThrowIfNull(context);
        duration.Record(
            Stopwatch.GetElapsedTime(started).TotalSeconds,
            new TagList { { "rpc_method", context.Method }, { "rpc_grpc_status_code", status.ToString() } });
    }
}
