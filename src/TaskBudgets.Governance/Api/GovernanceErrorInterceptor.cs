using Grpc.Core;
using Grpc.Core.Interceptors;
using Microsoft.EntityFrameworkCore;

namespace TaskBudgets.Governance.Api;

/// <summary>
/// Turns the domain's deliberate refusals into rich gRPC errors, and storage failures into
/// UNAVAILABLE (nothing was recorded; retry). Anything else stays UNKNOWN with its message hidden.
/// </summary>
public sealed partial class GovernanceErrorInterceptor(TimeProvider time, ILogger<GovernanceErrorInterceptor> logger) : Interceptor
{
    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request,
        ServerCallContext context,
        UnaryServerMethod<TRequest, TResponse> continuation)
    {
        ArgumentNullException.ThrowIfNull(continuation);
        try
        {
            return await continuation(request, context);
        }
        catch (GovernanceException e)
        {
            throw RpcErrors.From(e, time);
        }
        catch (Exception e) when (IsStorageFailure(e))
        {
            LogStorageFailure(logger, context.Method, e);
            throw RpcErrors.Unavailable("Storage is unavailable; the request was not recorded. Retry with the same ids.");
        }
    }

    private static bool IsStorageFailure(Exception e) =>
        e is DbUpdateException or System.Data.Common.DbException or TimeoutException
        || (e is InvalidOperationException && e.InnerException is System.Data.Common.DbException or TimeoutException);

    [LoggerMessage(Level = LogLevel.Error, Message = "{Method} failed on storage.")]
    private static partial void LogStorageFailure(ILogger logger, string method, Exception exception);
}
