using Microsoft.EntityFrameworkCore;

namespace TaskBudgets.Governance.Storage;

/// <summary>
/// What a control-plane change decided: its result, and the audit event to write with its rows
/// (null: it changes nothing, so nothing is written and the policy version stays).
/// </summary>
public sealed record AuditedChange<T>(T Result, AuditEventRow? Audit);

/// <summary>
/// The one writer of the control-plane tables: orgs, quotas, tier rules, models, API keys, the audit
/// log and the policy version. Each change is one transaction that first moves the policy version
/// on (a conditional update, which also serialises concurrent changes: <see cref="LockOrder"/>),
/// then lets the change read and decide, then writes its rows and its audit event: all or nothing.
/// </summary>
public sealed class ControlPlaneWriter(IDbContextFactory<GovernanceDbContext> contexts, SqliteWriteGate writeGate)
{
    // Each lost race means another change committed in between: a few in a row are normal under
    // load, eight are not.
    private const int Attempts = 8;

    /// <summary>
    /// Runs <paramref name="change"/> in a transaction that holds the policy version, and writes the
    /// rows it recorded and its audit event (stamped with the new version) unless it changes nothing.
    /// The change reads through the context it is given (untracked: what it loads is a copy) and
    /// writes only through the <see cref="ControlPlaneEdits"/>. It runs once the version is held.
    /// </summary>
    /// <returns>What the change decided, its audit event as written; null when other changes kept winning the race.</returns>
    public async Task<AuditedChange<T>?> ChangeAsync<T>(
        Func<GovernanceDbContext, ControlPlaneEdits, Task<AuditedChange<T>>> change,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(change);
        for (var attempt = 0; attempt < Attempts; attempt++)
        {
            using var entered = await writeGate.EnterAsync(cancellationToken);
            await using var db = await contexts.CreateDbContextAsync(cancellationToken);
            db.ChangeTracker.QueryTrackingBehavior = QueryTrackingBehavior.NoTracking;
            var version = await PolicyRows.ReadVersionAsync(db, cancellationToken);
            await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
            if (!await PolicyRows.TryBumpVersionAsync(db, version, cancellationToken))
            {
                await transaction.RollbackAsync(cancellationToken);
                continue;
            }

            var edits = new ControlPlaneEdits();
            var decided = await change(db, edits);
            if (db.ChangeTracker.HasChanges())
            {
                throw new InvalidOperationException("A control-plane change wrote through its context: record its rows in ControlPlaneEdits.");
            }

            if (decided.Audit is not { } audit)
            {
                await transaction.RollbackAsync(cancellationToken);
                return decided;
            }

            await edits.WriteAsync(db, cancellationToken);
            audit.PolicyVersion = version + 1;
            db.AuditEvents.Add(audit);
            await db.SaveChangesAsync(cancellationToken);
            await transaction.CommitAsync(cancellationToken);
            return decided;
        }

        return null;
    }
}
