namespace TaskBudgets.Governance.Policies;

/// <summary>Holds the policy in force on this replica. Readers take <see cref="Current"/> once per call.</summary>
public sealed class PolicyCatalog
{
    private PolicySnapshot current = PolicySnapshot.Empty;

    public PolicySnapshot Current => Volatile.Read(ref current);

    public void Replace(PolicySnapshot snapshot) => Volatile.Write(ref current, snapshot);
}
