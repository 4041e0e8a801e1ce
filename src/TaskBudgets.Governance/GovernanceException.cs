using TaskBudgets.Governance.Quotas;

namespace TaskBudgets.Governance;

/// <summary>The kinds of refusal the domain makes; the API turns each into its gRPC status.</summary>
public enum RefusalKind
{
    InvalidArgument = 1,
    NotFound = 2,
    FailedPrecondition = 3,
    ResourceExhausted = 4,
    Unavailable = 5,
    PermissionDenied = 6,
    Aborted = 7,
    AlreadyExists = 8,
}

/// <summary>A quota that could not fit a call: which one, and when its window resets.</summary>
public sealed record QuotaDenial(QuotaDefinition Quota, string Subject, DateTimeOffset WindowEnd, long Remaining);

/// <summary>One field of a request at fault, named as in the proto (e.g. "tier.rules[0].max_reasoning_tokens").</summary>
public sealed record FieldProblem(string Field, string Description);

/// <summary>
/// A deliberate refusal: the request is wrong or cannot be served. It carries a stable,
/// UPPER_SNAKE reason for machines; its message is safe to show callers.
/// </summary>
public sealed class GovernanceException(RefusalKind kind, string reason, string message) : Exception(message)
{
    public RefusalKind Kind { get; } = kind;

    public string Reason { get; } = reason;

    /// <summary>The request field at fault, for INVALID_ARGUMENT.</summary>
    public string? Field { get; init; }

    public QuotaDenial? Denial { get; init; }

    /// <summary>For INVALID_ARGUMENT: every field at fault with what is wrong with it.</summary>
    public IReadOnlyList<FieldProblem>? Problems { get; init; }

    /// <summary>An INVALID_ARGUMENT naming every field at fault.</summary>
    public static GovernanceException Invalid(IReadOnlyList<FieldProblem> problems) =>
        new(RefusalKind.InvalidArgument, "INVALID_ARGUMENT", "Invalid request: " + string.Join("; ", problems.Select(p => $"{p.Field}: {p.Description}")))
        {
            Problems = problems,
        };

    public static GovernanceException OrgNotFound(string orgId) =>
        new(RefusalKind.NotFound, "ORG_NOT_FOUND", $"Org '{orgId}' does not exist.") { Field = "org_id" };

    public static GovernanceException UnknownProject(string orgId, string projectId, IReadOnlyList<string> projects) =>
        new(RefusalKind.InvalidArgument, "UNKNOWN_PROJECT", $"Org '{orgId}' has no project '{projectId}'; its projects are: {string.Join(", ", projects)}.") { Field = "project_id" };

    public static GovernanceException UnknownModel(string model) =>
        new(RefusalKind.InvalidArgument, "UNKNOWN_MODEL", $"Model '{model}' is not in the policy's model table.") { Field = "model" };

    public static GovernanceException EtagMismatch(string resource) =>
        new(RefusalKind.Aborted, "ETAG_MISMATCH", $"The etag of {resource} is stale: it changed since it was read. Read it again and retry.") { Field = "etag" };

    public static GovernanceException GrantNotFound() =>
        new(RefusalKind.NotFound, "GRANT_NOT_FOUND", "No such grant: the grant id is unknown, altered or forged.") { Field = "grant_id" };
}
