using Grpc.Core;

namespace TaskBudgets.Client;

/// <summary>
/// The budget service refused or failed a call. <see cref="StatusCode"/> is the gRPC code and
/// <see cref="Reason"/> the machine-readable reason of its google.rpc.ErrorInfo (e.g. ORG_NOT_FOUND,
/// UNKNOWN_MODEL, GRANT_NOT_FOUND). A quota denial is the subclass <see cref="BudgetDeniedException"/>.
/// </summary>
public class BudgetServiceException : Exception
{
    /// <summary>A failure with no gRPC status (for serializers and tests).</summary>
    public BudgetServiceException()
        : this("The budget service call failed.")
    {
    }

    /// <summary>A failure with a message and no gRPC status.</summary>
    public BudgetServiceException(string message)
        : this(message, null)
    {
    }

    /// <summary>A failure with a message, caused by <paramref name="innerException"/>, and no gRPC status.</summary>
    public BudgetServiceException(string message, Exception? innerException)
        : this(message, StatusCode.Unknown, null, new Dictionary<string, string>(), [], innerException)
    {
    }

    /// <summary>A failure with its gRPC code and error details.</summary>
    public BudgetServiceException(
        string message,
        StatusCode statusCode,
        string? reason,
        IReadOnlyDictionary<string, string> metadata,
        IReadOnlyList<FieldViolation> fieldViolations,
        Exception? innerException)
        : base(message, innerException)
    {
        StatusCode = statusCode;
        Reason = reason;
        Metadata = metadata;
        FieldViolations = fieldViolations;
    }

    /// <summary>The gRPC status code of the failure.</summary>
    public StatusCode StatusCode { get; }

    /// <summary>The ErrorInfo reason (UPPER_SNAKE, domain "taskbudgets.v1"), or null when the failure carried none (e.g. the service was unreachable).</summary>
    public string? Reason { get; }

    /// <summary>The ErrorInfo metadata; empty when there was none.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>For INVALID_ARGUMENT: each bad field (a proto field path such as "features.complexity") and what is wrong with it.</summary>
    public IReadOnlyList<FieldViolation> FieldViolations { get; }

    /// <summary>True when the service could not be reached in time (UNAVAILABLE or DEADLINE_EXCEEDED after every retry).</summary>
    public bool IsUnreachable => StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded;
}

/// <summary>One bad field of an INVALID_ARGUMENT failure.</summary>
/// <param name="Field">The field's path in proto names, e.g. "features.complexity".</param>
/// <param name="Description">What is wrong with it.</param>
public sealed record FieldViolation(string Field, string Description);

/// <summary>
/// A quota cannot fit the call (RESOURCE_EXHAUSTED, reason QUOTA_EXHAUSTED): no budget was granted and
/// nothing was reserved. Not retried by the SDK and never answered with a fallback grant: wait
/// <see cref="RetryAfter"/>, or do without the call.
/// </summary>
public sealed class BudgetDeniedException : BudgetServiceException
{
    /// <summary>A denial with no details (for serializers and tests).</summary>
    public BudgetDeniedException()
        : this("The budget was denied.")
    {
    }

    /// <summary>A denial with a message and no details.</summary>
    public BudgetDeniedException(string message)
        : this(message, null)
    {
    }

    /// <summary>A denial with a message, caused by <paramref name="innerException"/>, and no details.</summary>
    public BudgetDeniedException(string message, Exception? innerException)
        : this(message, "QUOTA_EXHAUSTED", new Dictionary<string, string>(), null, null, [], innerException)
    {
    }

    /// <summary>A denial with its details.</summary>
    public BudgetDeniedException(
        string message,
        string? reason,
        IReadOnlyDictionary<string, string> metadata,
        string? quotaId,
        TimeSpan? retryAfter,
        IReadOnlyList<QuotaViolation> violations,
        Exception? innerException)
        : base(message, StatusCode.ResourceExhausted, reason, metadata, [], innerException)
    {
        QuotaId = quotaId;
        RetryAfter = retryAfter;
        Violations = violations;
    }

    /// <summary>The id of the quota that denied the call (e.g. "demo:reasoning_tokens:day"), when the service named it.</summary>
    public string? QuotaId { get; }

    /// <summary>How long until the quota's window resets (google.rpc.RetryInfo), when the service said.</summary>
    public TimeSpan? RetryAfter { get; }

    /// <summary>The google.rpc.QuotaFailure violations: who hit which limit.</summary>
    public IReadOnlyList<QuotaViolation> Violations { get; }
}

/// <summary>One violation of a quota denial.</summary>
/// <param name="Subject">Who hit the limit, e.g. "org:demo" or "org:demo/principal:user-7".</param>
/// <param name="Description">The quota and its numbers, for people.</param>
public sealed record QuotaViolation(string Subject, string Description);
