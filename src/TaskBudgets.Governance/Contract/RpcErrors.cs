using Google.Protobuf.WellKnownTypes;
using Google.Rpc;
using Grpc.Core;
using TaskBudgets.Governance.Quotas;
using QuotaTermNames = TaskBudgets.Governance.Budgeting.QuotaTermNames;
using TaskBudgets.V1;

namespace TaskBudgets.Governance.Contract;

/// <summary>Builds the service's rich errors: google.rpc.Status with ErrorInfo and the detail each code calls for.</summary>
public static class RpcErrors
{
    public const string Domain = "taskbudgets.v1";

    public static RpcException From(GovernanceException error, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(error);
        ArgumentNullException.ThrowIfNull(time);
        var status = new Google.Rpc.Status
        {
            Code = (int)(error.Kind switch
            {
                RefusalKind.InvalidArgument => Code.InvalidArgument,
                RefusalKind.NotFound => Code.NotFound,
                RefusalKind.FailedPrecondition => Code.FailedPrecondition,
                RefusalKind.ResourceExhausted => Code.ResourceExhausted,
                RefusalKind.Unavailable => Code.Unavailable,
                RefusalKind.PermissionDenied => Code.PermissionDenied,
                RefusalKind.Aborted => Code.Aborted,
                RefusalKind.AlreadyExists => Code.AlreadyExists,
                _ => Code.Internal,
            }),
            Message = error.Message,
        };
        var info = Info(error.Reason);
        if (error.Problems is { Count: > 0 } problems)
        {
            status.Details.Add(Any.Pack(new BadRequest
            {
                FieldViolations = { problems.Select(p => new BadRequest.Types.FieldViolation { Field = p.Field, Description = p.Description }) },
            }));
        }
        else if (error.Field is not null && error.Kind == RefusalKind.InvalidArgument)
        {
            status.Details.Add(Any.Pack(new BadRequest
            {
                FieldViolations = { new BadRequest.Types.FieldViolation { Field = error.Field, Description = error.Message } },
            }));
        }

        if (error.Denial is { } denial)
        {
            info.Metadata.Add("quota_id", denial.Quota.Id);
            info.Metadata.Add("window_resets_at", denial.WindowEnd.ToString("O", System.Globalization.CultureInfo.InvariantCulture));
            status.Details.Add(Any.Pack(new QuotaFailure
            {
                Violations =
                {
                    new QuotaFailure.Types.Violation
                    {
                        Subject = denial.Subject.Length == 0 ? $"org:{denial.Quota.OrgId}" : $"org:{denial.Quota.OrgId}/{QuotaTermNames.Label(denial.Quota.Scope)}:{denial.Subject}",
                        Description = $"quota {denial.Quota.Id}: {QuotaTermNames.Label(denial.Quota.Metric)} per {QuotaTermNames.Label(denial.Quota.Window)}, limit {denial.Quota.Limit}, {denial.Remaining} left",
                    },
                },
            }));
            var wait = denial.WindowEnd - time.GetUtcNow();
            status.Details.Add(Any.Pack(new RetryInfo { RetryDelay = Duration.FromTimeSpan(wait > TimeSpan.Zero ? wait : TimeSpan.Zero) }));
        }

        status.Details.Insert(0, Any.Pack(info));
        return status.ToRpcException();
    }

    public static RpcException Unavailable(string message) => new Google.Rpc.Status
    {
        Code = (int)Code.Unavailable,
        Message = message,
        Details = { Any.Pack(Info("STORAGE_UNAVAILABLE")) },
    }.ToRpcException();

    /// <summary>No key, or a key that is unknown or revoked.</summary>
    public static RpcException Unauthenticated(string reason, string message) => new Google.Rpc.Status
    {
        Code = (int)Code.Unauthenticated,
        Message = message,
        Details = { Any.Pack(Info(reason)) },
    }.ToRpcException();

    /// <summary>A key that may not do this.</summary>
    public static RpcException PermissionDenied(string message) => new Google.Rpc.Status
    {
        Code = (int)Code.PermissionDenied,
        Message = message,
        Details = { Any.Pack(Info("PERMISSION_DENIED")) },
    }.ToRpcException();

    /// <summary>A key past its request rate: retry after <paramref name="wait"/>.</summary>
    public static RpcException RateLimited(TimeSpan wait) => new Google.Rpc.Status
    {
        Code = (int)Code.ResourceExhausted,
        Message = "Too many requests for this key; retry after the delay in RetryInfo.",
        Details =
        {
            Any.Pack(Info("RATE_LIMITED")),
            Any.Pack(new RetryInfo { RetryDelay = Duration.FromTimeSpan(wait > TimeSpan.Zero ? wait : TimeSpan.Zero) }),
        },
    }.ToRpcException();

    /// <summary>A client address past its failed authentications (Auth:FailedAuthBurst, Auth:FailedAuthPerSecond).</summary>
    public static RpcException AuthenticationsLimited(TimeSpan wait) => new Google.Rpc.Status
    {
        Code = (int)Code.ResourceExhausted,
        Message = "Too many failed authentications from this address; retry after the delay in RetryInfo.",
        Details =
        {
            Any.Pack(Info("AUTH_FAILURES_LIMITED")),
            Any.Pack(new RetryInfo { RetryDelay = Duration.FromTimeSpan(wait > TimeSpan.Zero ? wait : TimeSpan.Zero) }),
        },
    }.ToRpcException();

    /// <summary>A request whose bytes are no message of its type (bad wire format, bad UTF-8, a cut frame, JSON that is not JSON).</summary>
    public static Google.Rpc.Status Malformed(string description) => new()
    {
        Code = (int)Code.InvalidArgument,
        Message = "The request could not be decoded: " + description,
        Details =
        {
            Any.Pack(Info("MALFORMED_REQUEST")),
            Any.Pack(new BadRequest { FieldViolations = { new BadRequest.Types.FieldViolation { Field = "request", Description = description } } }),
        },
    };

    /// <summary>A request naming a field its message does not have (a typo is refused rather than ignored).</summary>
    public static Google.Rpc.Status UnknownField(string field) => new()
    {
        Code = (int)Code.InvalidArgument,
        Message = $"Invalid request: {field}: is not a field of this request",
        Details =
        {
            Any.Pack(Info("INVALID_ARGUMENT")),
            Any.Pack(new BadRequest { FieldViolations = { new BadRequest.Types.FieldViolation { Field = field, Description = "is not a field of this request" } } }),
        },
    };

    /// <summary>A request larger than the server takes.</summary>
    public static Google.Rpc.Status TooLarge(long declared, long limit) => new()
    {
        Code = (int)Code.ResourceExhausted,
        Message = $"The request message ({declared} bytes) exceeds the limit of {limit} bytes.",
        Details =
        {
            Any.Pack(Info("MESSAGE_TOO_LARGE")),
            Any.Pack(new BadRequest { FieldViolations = { new BadRequest.Types.FieldViolation { Field = "request", Description = $"must be at most {limit} bytes" } } }),
        },
    };

    private static ErrorInfo Info(string reason) => new() { Reason = reason, Domain = Domain };
}
