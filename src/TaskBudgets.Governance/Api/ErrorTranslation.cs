using Grpc.Core;
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
public sealed partial class ErrorTranslation(TimeProvider time, StorageOutage outage, ILogger<ErrorTranslation> logger)
{
    /// <summary>Without the host's outage log (unit tests): outages go unlogged, other storage failures are logged as ever.</summary>
    public ErrorTranslation(TimeProvider time, ILogger<ErrorTranslation> logger)
        : this(time, new StorageOutage(time, NullLogger<StorageOutage>.Instance), logger)
    {
    }

    /// <summary>The RpcException a refusal or a storage failure becomes; null for anything else, which stays as it is.</summary>
    public RpcException? Translate(Exception e, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(e);
        ArgumentNullException.ThrowIfNull(context);
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
