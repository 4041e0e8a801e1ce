using Microsoft.EntityFrameworkCore;

namespace TaskBudgets.Governance.Storage;

/// <summary>The calibrations table: each replica's statistics, written only by that replica.</summary>
public sealed class CalibrationRows(IDbContextFactory<GovernanceDbContext> contexts, SqliteWriteGate writeGate)
{
    /// <summary>
    /// Writes <paramref name="replicaId"/>'s changed rows and deletes every row not updated since
    /// <paramref name="deleteBefore"/>, in one transaction: one commit (on SQLite, one fsync under
    /// the write lock the group commit waits for), not one a row.
    /// </summary>
    public async Task WriteOwnAsync(string replicaId, IReadOnlyList<CalibrationRow> changed, long nowMs, long deleteBefore, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(changed);
        using var entered = await writeGate.EnterAsync(cancellationToken);
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        await db.Calibrations.Where(r => r.UpdatedAtMs < deleteBefore).ExecuteDeleteAsync(cancellationToken);
        foreach (var row in changed)
        {
            var (tier, taskType, orgId, bytes) = (row.Tier, row.TaskType, row.OrgId, row.Stats);
            var updated = await db.Calibrations
                .Where(r => r.ReplicaId == replicaId && r.Tier == tier && r.TaskType == taskType && r.OrgId == orgId)
                .ExecuteUpdateAsync(s => s.SetProperty(r => r.Stats, bytes).SetProperty(r => r.UpdatedAtMs, nowMs), cancellationToken);
            if (updated == 0)
            {
                // Only this replica writes rows with its id: nobody else can have created it meanwhile.
                db.Calibrations.Add(new CalibrationRow { ReplicaId = replicaId, Tier = tier, TaskType = taskType, OrgId = orgId, Stats = bytes, UpdatedAtMs = nowMs });
            }
        }

        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
    }

    /// <summary>Which rows of other replicas there are and when each changed, without their statistics.</summary>
    public async Task<List<CalibrationRow>> ReadOthersHeadsAsync(string replicaId, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        return await db.Calibrations.AsNoTracking()
            .Where(r => r.ReplicaId != replicaId)
            .Select(r => new CalibrationRow { ReplicaId = r.ReplicaId, Tier = r.Tier, TaskType = r.TaskType, OrgId = r.OrgId, UpdatedAtMs = r.UpdatedAtMs })
            .ToListAsync(cancellationToken);
    }

    /// <summary>Every row of <paramref name="replicaIds"/>, statistics included.</summary>
    public async Task<List<CalibrationRow>> ReadOfAsync(IReadOnlyCollection<string> replicaIds, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        return await db.Calibrations.AsNoTracking().Where(r => replicaIds.Contains(r.ReplicaId)).ToListAsync(cancellationToken);
    }
}
