namespace TaskBudgets.Governance.Storage;

// Rows of the control plane: API keys, the audit log, and grant counts for usage summaries.

/// <summary>An API key. Only the SHA-256 hash of its secret is stored.</summary>
public sealed class ApiKeyRow
{
    /// <summary>The public id, shown in lists and audit events.</summary>
    public required string Id { get; set; }

    /// <summary>Lower-case hex SHA-256 of the secret.</summary>
    public required string Hash { get; set; }

    /// <summary>1 caller, 2 org admin, 3 admin.</summary>
    public int Role { get; set; }

    /// <summary>The org the key is bound to; empty for admin keys.</summary>
    public string OrgId { get; set; } = string.Empty;

    public string Description { get; set; } = string.Empty;

    public string CreatedBy { get; set; } = string.Empty;

    public long CreatedAtMs { get; set; }

    public long? RevokedAtMs { get; set; }
}

/// <summary>One change made through the admin API: who, when, what, before and after.</summary>
public sealed class AuditEventRow
{
    public long Id { get; set; }

    public long AtMs { get; set; }

    public required string Actor { get; set; }

    public required string Action { get; set; }

    public required string ResourceType { get; set; }

    public required string ResourceId { get; set; }

    public string OrgId { get; set; } = string.Empty;

    public string Before { get; set; } = string.Empty;

    public string After { get; set; } = string.Empty;

    public long PolicyVersion { get; set; }
}

/// <summary>
/// Grants and denials of one hour for one combination of org, project, principal, tier and task
/// type, added to by every replica (atomic increments). Usage itself comes from settlements.
/// </summary>
public sealed class UsageCounterRow
{
    /// <summary>A hash of the dimensions and the hour, so the key stays short on every provider.</summary>
    public required string Id { get; set; }

    public required string OrgId { get; set; }

    public string ProjectId { get; set; } = string.Empty;

    public string PrincipalId { get; set; } = string.Empty;

    public string Tier { get; set; } = string.Empty;

    public string TaskType { get; set; } = string.Empty;

    /// <summary>Unix seconds of the hour's start.</summary>
    public long HourStart { get; set; }

    public long Grants { get; set; }

    public long Reduced { get; set; }

    public long Denials { get; set; }

    public long GrantedReasoningTokens { get; set; }

    public long GrantedOutputTokens { get; set; }

    public long GrantedInputTokens { get; set; }

    public long GrantedCostMicros { get; set; }
}
