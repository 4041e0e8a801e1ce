using Grpc.Core;
using Microsoft.Extensions.Logging;
using V1 = TaskBudgets.V1;

namespace TaskBudgets.Client;

/// <summary>
/// The gRPC implementation of <see cref="IBudgetClient"/>: deadlines and retries on every call, the
/// API key on every call, fallback when the service is unreachable. Resolve it as
/// <see cref="IBudgetClient"/> after <c>services.AddTaskBudgetsClient(...)</c>.
/// </summary>
public sealed partial class BudgetClient : IBudgetClient, IGrantSettlement
{
    private readonly V1.BudgetService.BudgetServiceClient rpc;
    private readonly TaskBudgetsClientOptions options;
    private readonly TimeProvider time;
    private readonly ILogger<BudgetClient> logger;
    private readonly Metadata? headers;

    internal BudgetClient(V1.BudgetService.BudgetServiceClient rpc, TaskBudgetsClientOptions options, TimeProvider time, ILogger<BudgetClient> logger)
    {
        this.rpc = rpc;
        this.options = options;
        this.time = time;
        this.logger = logger;
        if (options.ApiKey is { } key)
        {
            headers = new Metadata { { "authorization", "Bearer " + key } };
        }
    }

    /// <inheritdoc />
    public async Task<BudgetGrant> AcquireAsync(BudgetRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var org = request.OrgId ?? options.OrgId;
        if (string.IsNullOrWhiteSpace(org))
        {
            throw new ArgumentException($"The request names no org and {TaskBudgetsClientOptions.Section}:OrgId is not set.", nameof(request));
        }

        if (string.IsNullOrWhiteSpace(request.TaskType) || string.IsNullOrWhiteSpace(request.Model))
        {
            throw new ArgumentException("A budget request needs a task type and a model.", nameof(request));
        }

        var subject = new GrantSubject(org, request.ProjectId, request.PrincipalId, request.TaskType, request.Model, request.RequestId ?? NewId());
        var ask = Wire.ToProto(request, subject);
        try
        {
            var answer = await CallAsync("GetBudget", o => rpc.GetBudgetAsync(ask, o), options.MaxRetries, cancellationToken).ConfigureAwait(false);
            return Wire.ToGrant(answer, this, subject);
        }
        catch (BudgetServiceException e) when (e.IsUnreachable && options.Fallback.Mode == FallbackMode.FailOpen)
        {
            LogFallback(logger, e.StatusCode, subject.OrgId, subject.TaskType, subject.Model, subject.RequestId, e);
            return Wire.FallbackGrant(options.Fallback, this, subject, e);
        }
    }

    async Task<UsageReceipt> IGrantSettlement.ReportAsync(BudgetGrant grant, Usage usage, StopReason stopReason, CallOutcome outcome, TimeSpan? latency, CancellationToken cancellationToken)
    {
        var report = Wire.ToProto(grant, usage, stopReason, outcome, latency);
        try
        {
            var answer = await CallAsync("ReportUsage", o => rpc.ReportUsageAsync(report, o), options.MaxRetries, cancellationToken).ConfigureAwait(false);
            return Wire.ToReceipt(answer);
        }
        catch (BudgetServiceException e) when (e.IsUnreachable && grant.IsFallback)
        {
            // Failing open all the way: the usage is not lost silently, it is in the log.
            LogFallbackReportLost(logger, e.StatusCode, grant.Subject.OrgId, grant.Subject.TaskType, grant.Subject.Model, grant.RequestId, usage.InputTokens, usage.CachedInputTokens, usage.CacheWriteInputTokens, usage.OutputTokens, usage.ReasoningTokens, e);
            return new UsageReceipt { Recorded = false, Truncated = stopReason == StopReason.MaxTokens };
        }
    }

    async Task IGrantSettlement.ReleaseQuietlyAsync(string grantId)
    {
        try
        {
            var answer = await CallAsync("ReleaseBudget", o => rpc.ReleaseBudgetAsync(new V1.ReleaseBudgetRequest { GrantId = grantId }, o), 0, CancellationToken.None).ConfigureAwait(false);
            LogReleased(logger, answer.AlreadySettled);
        }
#pragma warning disable CA1031 // Best effort by contract: an unreleased grant expires after the service's TTL.
        catch (Exception e)
#pragma warning restore CA1031
        {
            LogReleaseFailed(logger, e);
        }
    }

    private async Task<T> CallAsync<T>(string method, Func<CallOptions, AsyncUnaryCall<T>> send, int maxRetries, CancellationToken cancellationToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                using var call = send(new CallOptions(headers, DateTime.UtcNow + options.Deadline, cancellationToken));
                return await call.ResponseAsync.ConfigureAwait(false);
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.Cancelled && cancellationToken.IsCancellationRequested)
            {
                throw new OperationCanceledException($"{method} was cancelled.", e, cancellationToken);
            }
            catch (RpcException e) when (IsTransient(e.StatusCode) && attempt < maxRetries)
            {
                var wait = Backoff(attempt);
                LogRetry(logger, method, e.StatusCode, attempt + 1, maxRetries, wait.TotalMilliseconds);
                await Task.Delay(wait, time, cancellationToken).ConfigureAwait(false);
            }
            catch (RpcException e)
            {
                throw RpcFailures.ToException(method, e);
            }
        }
    }

    private static bool IsTransient(StatusCode code) => code is StatusCode.Unavailable or StatusCode.DeadlineExceeded;

    /// <summary>Exponential backoff with jitter: half to all of min(max, initial * 2^attempt).</summary>
    private TimeSpan Backoff(int attempt)
    {
        var full = Math.Min(options.MaxBackoff.TotalMilliseconds, options.InitialBackoff.TotalMilliseconds * Math.Pow(2, attempt));
#pragma warning disable CA5394 // Jitter spreads retries; it needs no secure randomness.
        return TimeSpan.FromMilliseconds(full * (0.5 + (Random.Shared.NextDouble() / 2)));
#pragma warning restore CA5394
    }

    private static string NewId() => "sdk-" + Guid.NewGuid().ToString("N");

    [LoggerMessage(EventId = 1, Level = LogLevel.Debug, Message = "{Method} failed with {StatusCode}: retry {Retry} of {MaxRetries} in {WaitMs:F0} ms")]
    private static partial void LogRetry(ILogger logger, string method, StatusCode statusCode, int retry, int maxRetries, double waitMs);

    [LoggerMessage(EventId = 2, Level = LogLevel.Warning, Message = "The budget service is unreachable ({StatusCode}): failing open with the fallback budget for org {OrgId}, task type {TaskType}, model {Model}, request {RequestId}")]
    private static partial void LogFallback(ILogger logger, StatusCode statusCode, string orgId, string taskType, string model, string requestId, Exception error);

    [LoggerMessage(EventId = 3, Level = LogLevel.Warning, Message = "The budget service is unreachable ({StatusCode}): the fallback grant's usage was not recorded: org {OrgId}, task type {TaskType}, model {Model}, report {RequestId}, input {InputTokens}, cached input {CachedInputTokens}, cache write {CacheWriteInputTokens}, output {OutputTokens}, reasoning {ReasoningTokens}")]
    private static partial void LogFallbackReportLost(ILogger logger, StatusCode statusCode, string orgId, string taskType, string model, string requestId, long inputTokens, long cachedInputTokens, long cacheWriteInputTokens, long outputTokens, long reasoningTokens, Exception error);

    [LoggerMessage(EventId = 4, Level = LogLevel.Debug, Message = "Released an unreported grant (already settled: {AlreadySettled})")]
    private static partial void LogReleased(ILogger logger, bool alreadySettled);

    [LoggerMessage(EventId = 5, Level = LogLevel.Warning, Message = "Could not release an unreported grant; it expires after the service's grant TTL")]
    private static partial void LogReleaseFailed(ILogger logger, Exception error);
}
