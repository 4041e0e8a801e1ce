using Google.Rpc;
using Grpc.Core;

namespace TaskBudgets.Client;

/// <summary>Turns a gRPC failure into the SDK's typed exceptions, reading its google.rpc details.</summary>
internal static class RpcFailures
{
    public const string QuotaExhausted = "QUOTA_EXHAUSTED";

    public static BudgetServiceException ToException(string method, RpcException error)
    {
        var status = error.GetRpcStatus();
        var info = status?.GetDetail<ErrorInfo>();
        var reason = string.IsNullOrEmpty(info?.Reason) ? null : info.Reason;
        IReadOnlyDictionary<string, string> metadata = info is null ? new Dictionary<string, string>() : new Dictionary<string, string>(info.Metadata);
        var detail = status?.Message ?? error.Status.Detail;
        var message = $"{method} failed with {error.StatusCode}{(reason is null ? string.Empty : " (" + reason + ")")}: {detail}";

        var quota = status?.GetDetail<QuotaFailure>();
        if (error.StatusCode == StatusCode.ResourceExhausted && (quota is not null || reason == QuotaExhausted))
        {
            var quotaId = quota?.Violations.Select(v => v.QuotaId).FirstOrDefault(id => !string.IsNullOrEmpty(id))
                ?? metadata.GetValueOrDefault("quota_id");
            var retryAfter = status?.GetDetail<RetryInfo>()?.RetryDelay?.ToTimeSpan();
            var violations = quota?.Violations.Select(v => new QuotaViolation(v.Subject, v.Description)).ToArray() ?? [];
            return new BudgetDeniedException(message, reason, metadata, quotaId, retryAfter, violations, error);
        }

        var fields = status?.GetDetail<BadRequest>()?.FieldViolations.Select(v => new FieldViolation(v.Field, v.Description)).ToArray() ?? [];
        return new BudgetServiceException(message, error.StatusCode, reason, metadata, fields, error);
    }
}
