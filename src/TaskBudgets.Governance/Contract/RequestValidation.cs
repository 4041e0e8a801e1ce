using System.Text.RegularExpressions;
using Google.Protobuf.WellKnownTypes;
using TaskBudgets.V1;

namespace TaskBudgets.Governance.Contract;

/// <summary>Checks request shapes before anything runs, so bad input changes nothing.</summary>
public static partial class RequestValidation
{
    public const long MaxUsageTokens = 100_000_000;
    public const long MaxInputEstimate = 10_000_000;
    public const int MaxAttempt = 100;
    public const int MaxGrantIdLength = 4096;

    /// <summary>Every field of a GetBudget request at fault; none when it may run.</summary>
    public static List<FieldProblem> ProblemsOf(GetBudgetRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var v = new List<FieldProblem>();
        Id(v, "org_id", request.OrgId, required: true, 128);
        Id(v, "project_id", request.ProjectId, required: false, 128);
        Id(v, "principal_id", request.PrincipalId, required: false, 128);
        Id(v, "task_type", request.TaskType, required: true, 64);
        Id(v, "model", request.Model, required: true, 128);
        Id(v, "request_id", request.RequestId, required: false, 128);
        Id(v, "task_id", request.TaskId, required: false, 128);
        if (request.Features is { } f)
        {
            if (f.HasComplexity && !(f.Complexity >= 0.0 && f.Complexity <= 1.0))
            {
                v.Add(Violation("features.complexity", "must be within 0..1"));
            }

            Range(v, "features.estimated_input_tokens", f.EstimatedInputTokens, 0, MaxInputEstimate);
            Range(v, "features.attempt", f.Attempt, 0, MaxAttempt);
            Range(v, "features.previous_reasoning_tokens", f.PreviousReasoningTokens, 0, MaxUsageTokens);
            Defined(v, "features.previous_stop_reason", f.PreviousStopReason);
            Defined(v, "features.phase", f.Phase);
            Defined(v, "features.priority", f.Priority);
        }

        return v;
    }

    public static void Check(GetBudgetRequest request) => Throw(ProblemsOf(request));

    public static void Check(ReportUsageRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var v = new List<FieldProblem>();
        if (request.GrantId.Length > MaxGrantIdLength)
        {
            v.Add(Violation("grant_id", $"must be at most {MaxGrantIdLength} characters"));
        }

        var withoutGrant = request.GrantId.Length == 0;
        Id(v, "org_id", request.OrgId, required: withoutGrant, 128);
        Id(v, "project_id", request.ProjectId, required: false, 128);
        Id(v, "principal_id", request.PrincipalId, required: false, 128);
        Id(v, "task_type", request.TaskType, required: withoutGrant, 64);
        Id(v, "model", request.Model, required: withoutGrant, 128);
        Id(v, "report_id", request.ReportId, required: withoutGrant, 128);
        if (request.Usage is not { } u)
        {
            v.Add(Violation("usage", "is required"));
        }
        else
        {
            Range(v, "usage.input_tokens", u.InputTokens, 0, MaxUsageTokens);
            Range(v, "usage.cached_input_tokens", u.CachedInputTokens, 0, MaxUsageTokens);
            Range(v, "usage.cache_write_input_tokens", u.CacheWriteInputTokens, 0, MaxUsageTokens);
            Range(v, "usage.output_tokens", u.OutputTokens, 0, MaxUsageTokens);
            Range(v, "usage.reasoning_tokens", u.ReasoningTokens, 0, MaxUsageTokens);
            if (u.ReasoningTokens > u.OutputTokens)
            {
                v.Add(Violation("usage.reasoning_tokens", "must not exceed usage.output_tokens (output includes reasoning)"));
            }
        }

        Defined(v, "stop_reason", request.StopReason);
        Defined(v, "outcome", request.Outcome);
        if (request.Latency is { } latency)
        {
            if (latency.Seconds < 0 || latency.Nanos < 0 || latency.Nanos >= Duration.NanosecondsPerSecond || latency.Seconds > 3600)
            {
                v.Add(Violation("latency", "must be a valid duration within 0..1h"));
            }
        }

        Throw(v);
    }

    public static void Check(ReleaseBudgetRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var v = new List<FieldProblem>();
        if (request.GrantId.Length == 0)
        {
            v.Add(Violation("grant_id", "is required"));
        }
        else if (request.GrantId.Length > MaxGrantIdLength)
        {
            v.Add(Violation("grant_id", $"must be at most {MaxGrantIdLength} characters"));
        }

        Throw(v);
    }

    private static void Id(List<FieldProblem> v, string field, string value, bool required, int maxLength)
    {
        if (value.Length == 0)
        {
            if (required)
            {
                v.Add(Violation(field, "is required"));
            }
        }
        else if (value.Length > maxLength)
        {
            v.Add(Violation(field, $"must be at most {maxLength} characters"));
        }
        else if (!IdPattern().IsMatch(value))
        {
            v.Add(Violation(field, "may hold only letters, digits and . _ : -"));
        }
    }

    private static void Range(List<FieldProblem> v, string field, long value, long min, long max)
    {
        if (value < min || value > max)
        {
            v.Add(Violation(field, $"must be within {min}..{max}"));
        }
    }

    private static void Defined<TEnum>(List<FieldProblem> v, string field, TEnum value)
        where TEnum : struct, System.Enum
    {
        if (!System.Enum.IsDefined(value))
        {
            v.Add(Violation(field, "is not a known value"));
        }
    }

    private static FieldProblem Violation(string field, string description) => new(field, description);

    private static void Throw(List<FieldProblem> problems)
    {
        if (problems.Count > 0)
        {
            throw GovernanceException.Invalid(problems);
        }
    }

    [GeneratedRegex("^[A-Za-z0-9._:-]+$")]
    private static partial Regex IdPattern();
}
