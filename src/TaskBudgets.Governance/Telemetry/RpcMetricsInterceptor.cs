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

    // Not async: most calls complete synchronously (a grant served from a lease), and those are
    // recorded and handed back without a state machine and a task of their own.
    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request,
        ServerCallContext context,
        UnaryServerMethod<TRequest, TResponse> continuation)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(continuation);
        var started = Stopwatch.GetTimestamp();
        Task<TResponse> call;
        try
        {
            call = continuation(request, context);
        }
        catch (Exception e)
        {
            Record(context, started, StatusOf(e));
            throw;
        }

        if (call.IsCompletedSuccessfully)
        {
            Record(context, started, StatusCode.OK);
            return call;
        }

        return AwaitAsync(call, context, started);
    }

    private static StatusCode StatusOf(Exception e) => e is RpcException rpc ? rpc.StatusCode : StatusCode.Unknown;

    private async Task<TResponse> AwaitAsync<TResponse>(Task<TResponse> call, ServerCallContext context, long started)
    {
        var status = StatusCode.OK;
        try
        {
            return await call;
        }
        catch (Exception e)
        {
            status = StatusOf(e);
            throw;
        }
        finally
        {
            Record(context, started, status);
        }
    }

    private void Record(ServerCallContext context, long started, StatusCode status) =>
        duration.Record(
            Stopwatch.GetElapsedTime(started).TotalSeconds,
            new TagList { { "rpc_method", context.Method }, { "rpc_grpc_status_code", status.ToString() } });
}
