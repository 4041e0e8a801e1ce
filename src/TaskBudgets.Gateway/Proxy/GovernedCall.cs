using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Grpc.Core;
using Microsoft.Extensions.Options;
using TaskBudgets.Client;
using TaskBudgets.Gateway.Settings;
using TaskBudgets.Gateway.Providers;
using TaskBudgets.Gateway.Telemetry;
using Yarp.ReverseProxy.Forwarder;

namespace TaskBudgets.Gateway.Proxy;

/// <summary>
/// One governed call: the caller's key and the call's attributes, GetBudget, the request rewritten
/// with the grant, the call forwarded (streamed back as it comes), then the usage reported once, or
/// the grant released when the upstream failed.
/// </summary>
internal sealed partial class GovernedCall(
    IHttpForwarder forwarder,
    UpstreamClient upstream,
    IBudgetClient budgets,
    IOptions<GatewayOptions> options,
    PendingReports pendingReports,
    GatewayMetrics metrics,
    ILogger<GovernedCall> logger)
{
    // Past this wait a denied caller is told not to retry on its own: the window resets too late for an SDK's backoff.
    private static readonly TimeSpan LongestRetryWorthWaiting = TimeSpan.FromSeconds(60);

    public async Task HandleAsync(HttpContext context, Provider provider, GovernedRoute route)
    {
        var request = context.Request;
        if (provider.CallerKey(request) is not { } callerKey)
        {
            await RefuseAsync(context, provider, 401, GatewayErrorKind.Unauthenticated, "No TaskBudgets key: send your tb_ key where this API's SDK sends its API key.", "rejected");
            return;
        }

        var (body, bodyBytes, bodyProblem) = await ReadBodyAsync(request);
        if (body is null)
        {
            await RefuseAsync(context, provider, bodyBytes > options.Value.MaxRequestBodyBytes ? 413 : 400, GatewayErrorKind.InvalidRequest, bodyProblem!, "rejected");
            return;
        }

        if (provider.Model(request, body) is not { } model)
        {
            await RefuseAsync(context, provider, 400, GatewayErrorKind.InvalidRequest, "The request names no model.", "rejected");
            return;
        }

        var (ask, problem) = CallHeaders.Read(request, model, callerKey, options.Value, route.Options.Defaults, bodyBytes);
        if (ask is null)
        {
            await RefuseAsync(context, provider, 400, GatewayErrorKind.InvalidRequest, problem!, "rejected");
            return;
        }

        CallerKeyHandler.Use(callerKey);
        var grant = await AcquireAsync(context, provider, ask);
        if (grant is null)
        {
            return;
        }

        var added = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        provider.Rewrite(body, grant, route.Rewrite, added);
        var rewritten = JsonSerializer.SerializeToUtf8Bytes(body);
        request.Body = new MemoryStream(rewritten, writable: false);
        request.ContentLength = rewritten.Length;

        var meter = provider.NewMeter();
        var transformer = new UpstreamTransformer(provider, route.Credential, added, grant, meter, options.Value.MaxMeteredResponseBytes);
        var started = Stopwatch.GetTimestamp();
        var error = await forwarder.SendAsync(context, route.UpstreamPrefix, upstream.Invoker, upstream.RequestConfig, transformer);
        var latency = Stopwatch.GetElapsedTime(started);
        metrics.Upstream(provider.Name, transformer.UpstreamStatus, transformer.UpstreamLatency);

        if (transformer.Tap is not { } tap)
        {
            // No answer, or an error answer: nothing was generated for the caller, so the reservation goes back.
            LogReleased(logger, provider.Name, transformer.UpstreamStatus, error);
            await grant.DisposeAsync();
            metrics.Finished(provider.Name, "released");
            return;
        }

        var outcome = CallOutcome.Success;
        if (error == ForwarderError.None)
        {
            // The whole answer passed (a body of known length may end without a last empty read).
            if (!tap.Ended)
            {
                tap.End();
            }

            // The caller has its whole answer before the report is made.
            await context.Response.CompleteAsync();
        }
        else
        {
            tap.Flush();
            outcome = error is ForwarderError.ResponseBodyClient or ForwarderError.ResponseBodyCanceled or ForwarderError.RequestCanceled || context.RequestAborted.IsCancellationRequested
                ? CallOutcome.Cancelled
                : CallOutcome.Failed;
        }

        // Not awaited here: the caller's connection takes its next request while the report commits.
        pendingReports.Track(ReportAsync(provider, grant, meter.Usage, meter.StopReason, outcome, latency));
    }

    private async Task<BudgetGrant?> AcquireAsync(HttpContext context, Provider provider, BudgetRequest ask)
    {
        var asked = Stopwatch.GetTimestamp();
        try
        {
            var grant = await budgets.AcquireAsync(ask, context.RequestAborted);
            metrics.Decided(provider.Name, grant.Decision.ToString().ToLowerInvariant(), Stopwatch.GetElapsedTime(asked));
            return grant;
        }
        catch (BudgetDeniedException denied)
        {
            metrics.Decided(provider.Name, "denied", Stopwatch.GetElapsedTime(asked));
            var wait = denied.RetryAfter ?? TimeSpan.FromSeconds(60);
            context.Response.Headers.RetryAfter = Math.Max(1, (long)Math.Ceiling(wait.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
            if (wait > LongestRetryWorthWaiting)
            {
                context.Response.Headers["x-should-retry"] = "false";
            }

            var quota = denied.QuotaId is { } id ? $" (quota {id})" : string.Empty;
            await RefuseAsync(context, provider, 429, GatewayErrorKind.BudgetDenied, $"TaskBudgets denied the call: no budget left{quota}; retry after {wait.TotalSeconds:F0} s.", "denied");
            return null;
        }
        catch (BudgetServiceException refused)
        {
            metrics.Decided(provider.Name, "error", Stopwatch.GetElapsedTime(asked));
            var (status, kind, outcome) = refused.StatusCode switch
            {
                StatusCode.Unauthenticated => (401, GatewayErrorKind.Unauthenticated, "rejected"),
                StatusCode.PermissionDenied => (403, GatewayErrorKind.PermissionDenied, "rejected"),
                StatusCode.NotFound => (404, GatewayErrorKind.NotFound, "rejected"),
                StatusCode.InvalidArgument or StatusCode.FailedPrecondition or StatusCode.OutOfRange => (400, GatewayErrorKind.InvalidRequest, "rejected"),
                StatusCode.ResourceExhausted => (429, GatewayErrorKind.BudgetDenied, "denied"),
                _ => (503, GatewayErrorKind.Unavailable, "unavailable"),
            };
            LogRefused(logger, provider.Name, refused.StatusCode, refused.Reason);
            var message = status == 503 ? "The TaskBudgets service could not be reached; retry later." : "TaskBudgets refused the call: " + refused.Message;
            await RefuseAsync(context, provider, status, kind, message, outcome);
            return null;
        }
        catch (ArgumentException invalid)
        {
            metrics.Decided(provider.Name, "error", Stopwatch.GetElapsedTime(asked));
            await RefuseAsync(context, provider, 400, GatewayErrorKind.InvalidRequest, invalid.Message, "rejected");
            return null;
        }
    }

    private async Task ReportAsync(Provider provider, BudgetGrant grant, Usage usage, StopReason stopReason, CallOutcome outcome, TimeSpan latency)
    {
        try
        {
            await grant.ReportAsync(usage, stopReason, outcome, latency > TimeSpan.FromHours(1) ? null : latency, CancellationToken.None);
            metrics.Finished(provider.Name, outcome == CallOutcome.Cancelled ? "cancelled" : "reported");
        }
        catch (BudgetServiceException e)
        {
            // Not released: the tokens were spent, so the reservation stays until the grant expires.
            LogReportFailed(logger, provider.Name, e.StatusCode, grant.RequestId, usage.InputTokens, usage.OutputTokens, usage.ReasoningTokens, e);
            metrics.Finished(provider.Name, "report_failed");
        }
#pragma warning disable CA1031 // The report runs after the call's handler: nothing above it could handle a failure.
        catch (Exception e)
#pragma warning restore CA1031
        {
            LogReportFailed(logger, provider.Name, StatusCode.Unknown, grant.RequestId, usage.InputTokens, usage.OutputTokens, usage.ReasoningTokens, e);
            metrics.Finished(provider.Name, "report_failed");
        }
    }

    private async Task<(JsonObject? Body, long Bytes, string? Problem)> ReadBodyAsync(HttpRequest request)
    {
        var limit = options.Value.MaxRequestBodyBytes;
        if (request.ContentLength > limit)
        {
            return (null, request.ContentLength.Value, $"The request body is larger than the gateway's limit of {limit} bytes.");
        }

        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, request.HttpContext.RequestAborted)) > 0)
        {
            buffer.Write(chunk, 0, read);
            if (buffer.Length > limit)
            {
                return (null, buffer.Length, $"The request body is larger than the gateway's limit of {limit} bytes.");
            }
        }

        try
        {
            return JsonNode.Parse(buffer.GetBuffer().AsSpan(0, (int)buffer.Length)) is JsonObject body
                ? (body, buffer.Length, null)
                : (null, buffer.Length, "The request body must be a JSON object.");
        }
        catch (JsonException e)
        {
            return (null, buffer.Length, "The request body is not valid JSON: " + e.Message);
        }
    }

    private async Task RefuseAsync(HttpContext context, Provider provider, int status, GatewayErrorKind kind, string message, string outcome)
    {
        metrics.Finished(provider.Name, outcome);
        context.Response.StatusCode = status;
        await context.Response.WriteAsJsonAsync(provider.ErrorBody(status, kind, message));
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "{Api}: the upstream call failed (status {Status}, forwarder {Error}); the grant was released")]
    private static partial void LogReleased(ILogger logger, string api, int? status, ForwarderError error);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "{Api}: the budget service refused the call with {StatusCode} ({Reason})")]
    private static partial void LogRefused(ILogger logger, string api, StatusCode statusCode, string? reason);

    [LoggerMessage(EventId = 3, Level = LogLevel.Warning, Message = "{Api}: the usage report failed with {StatusCode}: request {RequestId}, input {InputTokens}, output {OutputTokens}, reasoning {ReasoningTokens} not recorded; the grant expires after the service's TTL")]
    private static partial void LogReportFailed(ILogger logger, string api, StatusCode statusCode, string requestId, long inputTokens, long outputTokens, long reasoningTokens, Exception error);
}
