namespace TaskBudgets.Governance.Storage;

/// <summary>
/// The order every writer in Storage takes rows in, stated once here. Two transactions that take
/// rows in opposite orders can wait on each other for ever; PostgreSQL and SQL Server then abort one
/// as a deadlock. So every writer keeps to:
/// <list type="number">
/// <item><description>
/// Data plane (the group commit, lease changes, renewal, reclaim): settlements by id, then
/// capacity leases by id, then quota counters by key and window, then the task budgets the same
/// batch uses. Usage counters and calibrations are flushed in transactions of their own, rows in id
/// order, so replicas flushing together cannot deadlock either.
/// </description></item>
/// <item><description>
/// Control plane (<see cref="ControlPlaneWriter"/>'s audited changes, <see cref="PolicyRows.ReplaceAsync"/>):
/// the policy version row first, which serialises every change, then the changed rows of orgs,
/// quotas, tier rules, models and API keys, then the audit event. Holding the version row, a change
/// waits on no other control-plane change for the rest.
/// </description></item>
/// </list>
/// The two planes share no table, so neither waits on the other's rows. SQLite has one write lock per
/// file instead of row locks: every write of a running server enters <see cref="SqliteWriteGate"/>
/// before its transaction begins, so the lock is handed over rather than polled for. Start-up's writes
/// (the grant signing key, the policy seed) run before the server listens, and the CLI's apply in its
/// own process: those rely on SQLite's busy timeout.
/// </summary>
public static class LockOrder;
