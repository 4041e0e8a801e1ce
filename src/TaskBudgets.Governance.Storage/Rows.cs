namespace TaskBudgets.Governance.Storage;

// Table rows. Times are Unix milliseconds (windows: Unix seconds) so that every provider
// compares them the same way.

/// <summary>An org (tenant) and its tier.</summary>
public sealed class OrgRow
{
    public required string Id { get; set; }

    public required string DisplayName { get; set; }

    public required string Tier { get; set; }

    /// <summary>The org's projects as a JSON array of names.</summary>
    public string Projects { get; set; } = "[]";
}

/// <summary>A tier's budget rule for one task type ("*" for its default).</summary>
public sealed class TierRuleRow
{
    public required string Tier { get; set; }

    public required string TaskType { get; set; }

    public long MinReasoningTokens { get; set; }

    public long DefaultReasoningTokens { get; set; }

    public long MaxReasoningTokens { get; set; }

    public long AnswerTokens { get; set; }

    public long MaxOutputTokens { get; set; }

    public int Effort { get; set; }

    public double EscalationFactor { get; set; }

    public double PreliminaryFraction { get; set; }

    public double SoftLimitThreshold { get; set; }

    public double SoftLimitFloor { get; set; }

    public long TaskBudgetTokens { get; set; }

    public bool Adaptive { get; set; }

    public int MinSamples { get; set; } = 200;

    /// <summary>
    /// The tier's target truncation rate. Tiers have no table of their own (a tier is its rules),
    /// so every rule row of a tier carries the same value.
    /// </summary>
    public double TargetTruncationRate { get; set; } = 0.02;
}

/// <summary>A quota of an org.</summary>
public sealed class QuotaRow
{
    public required string Id { get; set; }

    public required string OrgId { get; set; }

    public int Scope { get; set; }

    public string Subject { get; set; } = string.Empty;

    public int Metric { get; set; }

    public int Window { get; set; }

    public long Limit { get; set; }
}

/// <summary>A model: family, thinking parameters and prices (micro-dollars per million tokens).</summary>
public sealed class ModelRow
{
    public required string Name { get; set; }

    public int Family { get; set; }

    public int Thinking { get; set; }

    public long MinThinkingTokens { get; set; }

    public long MaxThinkingTokens { get; set; }

    public long InputMicrosPerMillion { get; set; }

    public long CachedInputMicrosPerMillion { get; set; }

    public long CacheWriteMicrosPerMillion { get; set; }

    public long OutputMicrosPerMillion { get; set; }
}

/// <summary>A service-wide setting shared by all replicas (policy version, grant signing key).</summary>
public sealed class SettingRow
{
    public const string PolicyVersion = "policy_version";
    public const string GrantSigningKey = "grant_signing_key";

    public required string Key { get; set; }

    public required string Value { get; set; }
}

/// <summary>
/// One quota window's counter. Invariant kept by every lease: Consumed + Leased never passes the
/// quota's limit through a grant (late and over-grant usage can, and is flagged).
/// </summary>
public sealed class QuotaCounter
{
    public required string CounterKey { get; set; }

    public long WindowStart { get; set; }

    /// <summary>Usage settled by reports.</summary>
    public long Consumed { get; set; }

    /// <summary>Capacity leased to replicas and not yet debited: the sum of live leases' balances.</summary>
    public long Leased { get; set; }
}

/// <summary>Capacity of one quota window leased to one replica, which grants from it in memory.</summary>
public sealed class CapacityLease
{
    public required string Id { get; set; }

    public required string CounterKey { get; set; }

    public long WindowStart { get; set; }

    public required string ReplicaId { get; set; }

    /// <summary>Capacity taken from the counter; changed only by the owning replica.</summary>
    public long Amount { get; set; }

    /// <summary>Usage of the lease's grants settled on the owning replica.</summary>
    public long DebitedByOwner { get; set; }

    /// <summary>Usage of the lease's grants settled on other replicas; the owner learns it on renewal.</summary>
    public long DebitedByOthers { get; set; }

    /// <summary>
    /// Free capacity other replicas took back while the owner was silent (only grows); the owner
    /// learns it on renewal. The lease's balance is Amount less both debits and this.
    /// </summary>
    public long Reclaimed { get; set; }

    /// <summary>
    /// What the owner may still claim of the lease: its live grants' reservations and what it may
    /// reserve before it declares again. The owner declares it on every renewal and never reserves
    /// past it; every settlement lowers it as it ends a reservation. The balance beyond it is free:
    /// another replica may take it back (<see cref="Reclaimed"/>) without the owner's help.
    /// Held never exceeds the balance, unless a call used more than its grant.
    /// </summary>
    public long Held { get; set; }

    /// <summary>The owner's live grants' reservations as it last declared them, less those ended since (shown, not enforced).</summary>
    public long Reserved { get; set; }

    /// <summary>When the owner last renewed the lease (by its own clock).</summary>
    public long RenewedAtMs { get; set; }

    public long ExpiresAtMs { get; set; }
}

/// <summary>
/// A grant settled or released on a replica other than its issuer, waiting for the issuer to
/// free its reservation; the issuer reads and deletes its notices on every renewal pass.
/// </summary>
public sealed class GrantNotice
{
    public required string IssuerReplicaId { get; set; }

    /// <summary>The grant id, as the settlement row's id.</summary>
    public required string GrantId { get; set; }

    /// <summary>When the grant expires: where the issuer's grant book keeps it, and when the notice is moot.</summary>
    public long ExpiresAtMs { get; set; }
}

/// <summary>An agentic loop's task budget: fixed by its first call, used up by its reports.</summary>
public sealed class TaskBudgetRow
{
    public required string OrgId { get; set; }

    public required string TaskId { get; set; }

    public long Total { get; set; }

    /// <summary>Output tokens (reasoning included) the loop's reports have used.</summary>
    public long Used { get; set; }

    public long CreatedAtMs { get; set; }
}

/// <summary>The once-only settlement of a grant (or of a report without one).</summary>
public sealed class Settlement
{
    public required string Id { get; set; }

    public required string OrgId { get; set; }

    public int Kind { get; set; }

    public string ProjectId { get; set; } = string.Empty;

    public string PrincipalId { get; set; } = string.Empty;

    public string TaskType { get; set; } = string.Empty;

    public string Model { get; set; } = string.Empty;

    public string Tier { get; set; } = string.Empty;

    public long GrantedReasoningTokens { get; set; }

    public long GrantedOutputTokens { get; set; }

    public long InputTokens { get; set; }

    public long CachedInputTokens { get; set; }

    public long CacheWriteInputTokens { get; set; }

    public long OutputTokens { get; set; }

    public long ReasoningTokens { get; set; }

    public long CostMicros { get; set; }

    public int StopReason { get; set; }

    public int Outcome { get; set; }

    public long LatencyMs { get; set; }

    public bool Late { get; set; }

    public bool OverGrant { get; set; }

    public bool Truncated { get; set; }

    public long SettledAtMs { get; set; }

    /// <summary>What each quota was debited, as JSON, so a retried report gets the first answer.</summary>
    public string QuotasJson { get; set; } = "[]";
}

/// <summary>
/// One replica's calibration statistics of one tier's task type (and org): its own calls only, so
/// every replica writes only its own rows and the merge of all rows is the statistics of all calls.
/// </summary>
public sealed class CalibrationRow
{
    public required string ReplicaId { get; set; }

    public required string Tier { get; set; }

    public required string TaskType { get; set; }

    /// <summary>Empty for the tier-wide statistics.</summary>
    public string OrgId { get; set; } = string.Empty;

    /// <summary>The serialised statistics (<c>CalibrationStats.Serialize</c>).</summary>
    public byte[] Stats { get; set; } = [];

    public long UpdatedAtMs { get; set; }
}
