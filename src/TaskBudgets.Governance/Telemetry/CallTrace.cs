using System.Diagnostics;
using Grpc.Core;

namespace TaskBudgets.Governance.Telemetry;

/// <summary>
/// Trace ids for what a call logs. With tracing configured every request has an Activity and the
/// log lines carry its ids (ActivityTrackingOptions); without, no Activity is made per request,
/// and the few calls that log get the caller's trace id (its traceparent header) or a new one, as
/// a scope, only when they log.
/// </summary>
public static class CallTrace
{
    /// <summary>A scope holding TraceId and SpanId for lines logged by <paramref name="context"/>'s call; null when an Activity already gives them.</summary>
    public static IDisposable? Begin(ILogger logger, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(logger);
        ArgumentNullException.ThrowIfNull(context);
        if (Activity.Current is not null)
        {
            return null;
        }

        // Through the call's metadata, not its HttpContext: this runs inside exception filters,
        // where a throw would silently undo the error's translation, and not every context has one.
        var header = context.RequestHeaders.GetValue("traceparent");
        var ids = header is not null && ActivityContext.TryParse(header, null, out var parent)
            ? (parent.TraceId, parent.SpanId)
            : (ActivityTraceId.CreateRandom(), ActivitySpanId.CreateRandom());
        return logger.BeginScope(new KeyValuePair<string, object>[]
        {
            new("TraceId", ids.Item1.ToHexString()),
            new("SpanId", ids.Item2.ToHexString()),
        });
    }
}
