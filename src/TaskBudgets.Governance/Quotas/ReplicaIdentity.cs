namespace TaskBudgets.Governance.Quotas;

/// <summary>
/// This process's identity among replicas. New on every start: a restarted replica does not
/// inherit the leases of its previous life, which expire.
/// </summary>
public sealed class ReplicaIdentity
{
    public string Id { get; } = Guid.NewGuid().ToString("N");
}
