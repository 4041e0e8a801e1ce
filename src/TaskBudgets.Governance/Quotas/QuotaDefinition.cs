using TaskBudgets.Governance.Budgeting;

namespace TaskBudgets.Governance.Quotas;

/// <summary>
/// A limit on one metric over one window for one scope. A project or principal quota
/// with no named subject applies to each project (principal) separately.
/// </summary>
public sealed record QuotaDefinition
{
    public required string Id { get; init; }

    public required string OrgId { get; init; }

    public required QuotaScope Scope { get; init; }

    /// <summary>The project or principal the quota is for; empty for each one, or for org scope.</summary>
    public string Subject { get; init; } = string.Empty;

    public required QuotaMetric Metric { get; init; }

    public required WindowKind Window { get; init; }

    public required long Limit { get; init; }

    /// <summary>The counter this call is counted in, or null when the quota does not apply to it.</summary>
    public string? SubjectFor(string projectId, string principalId)
    {
        var callSubject = Scope switch
        {
            QuotaScope.Project => projectId,
            QuotaScope.Principal => principalId,
            _ => string.Empty,
        };
        if (Scope == QuotaScope.Org)
        {
            return string.Empty;
        }

        if (callSubject.Length == 0)
        {
            return null;
        }

        return Subject.Length == 0 || Subject == callSubject ? callSubject : null;
    }

    /// <summary>The durable name of one counter: the quota and, for per-project or per-principal quotas, whose.</summary>
    public string CounterKey(string subject) => CounterKeyOf(Id, subject);

    public static string CounterKeyOf(string quotaId, string subject) =>
        subject.Length == 0 ? quotaId : string.Concat(quotaId, "|", subject);

    /// <summary>The id of one replica's lease on one counter's window.</summary>
    public static string LeaseIdOf(string replicaId, string counterKey, long windowStartUnix) =>
        string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{replicaId}/{counterKey}/{windowStartUnix}");
}
