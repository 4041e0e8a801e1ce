using TaskBudgets.Governance.Budgeting;
using TaskBudgets.Governance.Quotas;

namespace TaskBudgets.Governance.Grants;

/// <summary>What a caller asks a budget for.</summary>
public sealed record GrantRequest(
    string OrgId,
    string ProjectId,
    string PrincipalId,
    string TaskType,
    string Model,
    CallFeatures Features,
    string RequestId,
    string TaskId);

/// <summary>One quota a grant reserved on.</summary>
public sealed record QuotaReservation(QuotaDefinition Quota, string Subject, DateTimeOffset WindowStart, DateTimeOffset WindowEnd, long Reserved, long Remaining);

/// <summary>A grant: the decided budget, its reservations and its signed id.</summary>
public sealed record IssuedGrant(
    string Token,
    DateTimeOffset ExpiresAt,
    BudgetDecision Decision,
    ProviderParameters Provider,
    string Tier,
    TierRule Rule,
    long PolicyVersion,
    IReadOnlyList<QuotaReservation> Quotas);

/// <summary>What GetBudget would answer: the grant it would issue (with no token), or its refusal.</summary>
public sealed record GrantPreview(IssuedGrant? Grant, GovernanceException? Refusal);
