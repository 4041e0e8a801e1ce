using System.Diagnostics;
using System.Diagnostics.Metrics;
using Grpc.Core;
using Grpc.Core.Interceptors;

namespace TaskBudgets.Governance.Telemetry;

/// <summary>
/// Duration and gRPC status of every call: HTTP metrics see gRPC failures as HTTP 200, so the
/// status code is recorded here.
/// </summary>
public sealed class RpcMetricsInterceptor : Interceptor
{
    private readonly Histogram<double> duration;

    public RpcMetricsInterceptor(GovernanceMetrics metrics)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        duration = metrics.Meter.CreateHistogram<double>(
            "taskbudgets.rpc.duration",
            "s",
            "Server-side duration of gRPC calls, by method and status code.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5] });
    }

    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request,
        ServerCallContext context,
        UnaryServerMethod<TRequest, TResponse> continuation)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(continuation);
        var started = Stopwatch.GetTimestamp();
        var status = StatusCode.OK;
        try
        {
            return await continuation(request, context);
        }
        catch (RpcException e)
        {
            status = e.StatusCode;
            throw;
        }
        catch
        {
            status = StatusCode.Unknown;
            throw;
        }
        finally
        {
            duration.Record(
                Stopwatch.GetElapsedTime(started).TotalSeconds,
                new TagList { { "rpc_method", context.Method }, { "rpc_grpc_status_code", status.ToString() } });
        }
    }
}
