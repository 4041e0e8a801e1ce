using Microsoft.EntityFrameworkCore;

namespace TaskBudgets.Governance.Storage;

/// <summary>The task_budgets table: one row per agentic loop, started once, debited by settlements.</summary>
public sealed class TaskBudgetRows(IDbContextFactory<GovernanceDbContext> contexts, SqliteWriteGate writeGate)
{
    /// <summary>The loop's total and what its reports used, or null when no call has started it.</summary>
    public async Task<(long Total, long Used)?> ReadAsync(string orgId, string taskId, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var row = await db.TaskBudgets.AsNoTracking()
            .Where(t => t.OrgId == orgId && t.TaskId == taskId)
            .Select(t => new { t.Total, t.Used })
            .FirstOrDefaultAsync(cancellationToken);
        return row is null ? null : (row.Total, row.Used);
    }

    /// <summary>
    /// The loop's total and use: its row if it has one, else a new row with <paramref name="total"/>.
    /// Two replicas starting the same loop at once both get the one row that was written first.
    /// </summary>
    public async Task<(long Total, long Used)> ReadOrStartAsync(string orgId, string taskId, long total, long nowMs, CancellationToken cancellationToken)
    {
        for (var attempt = 0; attempt < 2; attempt++)
        {
            if (await ReadAsync(orgId, taskId, cancellationToken) is { } found)
            {
                return found;
            }

            using var entered = await writeGate.EnterAsync(cancellationToken);
            await using var db = await contexts.CreateDbContextAsync(cancellationToken);
            db.TaskBudgets.Add(new TaskBudgetRow { OrgId = orgId, TaskId = taskId, Total = total, CreatedAtMs = nowMs });
            try
            {
                await db.SaveChangesAsync(cancellationToken);
                return (total, 0);
            }
            catch (DbUpdateException)
            {
                // Another replica started the loop at the same moment: read theirs.
            }
        }

        throw new InvalidOperationException($"Could not read or start task '{taskId}'.");
    }
}
