using Grpc.Core;
using Grpc.Core.Interceptors;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging.Abstractions;
using TaskBudgets.Governance.Contract;
using TaskBudgets.Governance.Storage;
using TaskBudgets.Governance.Telemetry;

namespace TaskBudgets.Governance.Api;

/// <summary>
/// Turns the domain's deliberate refusals into rich gRPC errors, and storage failures into
/// UNAVAILABLE (nothing was recorded; retry). Anything else stays UNKNOWN with its message hidden.
/// </summary>
public sealed partial class GovernanceErrorInterceptor(TimeProvider time, StorageOutage outage, ILogger<GovernanceErrorInterceptor> logger) : Interceptor
{
    /// <summary>Without the host's outage log (unit tests): outages go unlogged, other storage failures are logged as ever.</summary>
    public GovernanceErrorInterceptor(TimeProvider time, ILogger<GovernanceErrorInterceptor> logger)
        : this(time, new StorageOutage(time, NullLogger<StorageOutage>.Instance), logger)
    {
    }

    // Not async: a call that completed successfully is handed back as it is, without a state
    // machine and a task of its own; only failures need translating.
    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request,
        ServerCallContext context,
        UnaryServerMethod<TRequest, TResponse> continuation)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(continuation);
        Task<TResponse> call;
        try
        {
            call = continuation(request, context);
        }
        catch (Exception e) when (Translated(e, context) is { } translated)
        {
            throw translated;
        }

        return call.IsCompletedSuccessfully ? call : TranslateAsync(call, context);
    }

    private async Task<TResponse> TranslateAsync<TResponse>(Task<TResponse> call, ServerCallContext context)
    {
        try
        {
            return await call;
        }
        catch (Exception e) when (Translated(e, context) is { } translated)
        {
            throw translated;
        }
    }

    /// <summary>The RpcException a refusal or a storage failure becomes; null for anything else, which stays as it is.</summary>
    private RpcException? Translated(Exception e, ServerCallContext context)
    {
        if (e is GovernanceException refusal)
        {
            return RpcErrors.From(refusal, time);
        }

        // The database being away is one story told by StorageOutage, not an error per call.
        if (StorageOutage.IsOutage(e))
        {
            outage.Failed(context.Method, e);
            return StorageUnavailable();
        }

        if (IsStorageFailure(e))
        {
            using (CallTrace.Begin(logger, context))
            {
                LogStorageFailure(logger, context.Method, e);
            }

            return StorageUnavailable();
        }

        return null;
    }

    private static RpcException StorageUnavailable() =>
        RpcErrors.Unavailable("Storage is unavailable; the request was not recorded. Retry with the same ids.");

    private static bool IsStorageFailure(Exception e) =>
        e is DbUpdateException or System.Data.Common.DbException or TimeoutException
        || (e is InvalidOperationException && e.InnerException is System.Data.Common.DbException or TimeoutException);

    [LoggerMessage(Level = LogLevel.Error, Message = "{Method} failed on storage.")]
    private static partial void LogStorageFailure(ILogger logger, string method, Exception exception);
}
