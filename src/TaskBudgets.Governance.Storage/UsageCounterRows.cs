using Microsoft.EntityFrameworkCore;

namespace TaskBudgets.Governance.Storage;

/// <summary>The usage_counters table: per hour and caller dimensions, added to by every replica.</summary>
public sealed class UsageCounterRows(IDbContextFactory<GovernanceDbContext> contexts, SqliteWriteGate writeGate)
{
    private LedgerSql? statements;

    /// <summary>
    /// Adds each row's counts to its stored row, creating the hour's row where there is none, all
    /// in one transaction: all of it counts or none. One commit instead of one per row (on SQLite
    /// each commit is an fsync under the write lock the group commit waits for); the rows are
    /// taken in id order (<see cref="LockOrder"/>) and the additions go as one batch.
    /// </summary>
    public async Task AddAsync(IReadOnlyList<UsageCounterRow> rows, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(rows);
        var ordered = rows.OrderBy(r => r.Id, StringComparer.Ordinal).ToList();
        using var entered = await writeGate.EnterAsync(cancellationToken);
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        var sql = statements ??= LedgerSql.For(db);
        var found = await sql.AddUsageAsync(db, ordered);
        for (var i = 0; i < ordered.Count; i++)
        {
            if (!found[i])
            {
                await InsertAsync(db, sql, ordered[i], cancellationToken);
            }
        }

        await transaction.CommitAsync(cancellationToken);
    }

    // The hour's first count for these dimensions.
    private static async Task InsertAsync(GovernanceDbContext db, LedgerSql sql, UsageCounterRow row, CancellationToken cancellationToken)
    {
        db.UsageCounters.Add(row);
        try
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateException)
        {
            // Another replica created the row at the same moment: add to theirs. (EF rolled back to
            // the savepoint it takes before saving inside a transaction.)
            db.ChangeTracker.Clear();
            if (!(await sql.AddUsageAsync(db, [row]))[0])
            {
                throw;
            }
        }
    }
}
