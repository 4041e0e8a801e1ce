using Microsoft.EntityFrameworkCore;

namespace TaskBudgets.Governance.Storage;

/// <summary>The settings every replica shares (<see cref="SettingRow"/>), written once and then read.</summary>
public static class SettingRows
{
    /// <summary>The setting's value, or null when it has none.</summary>
    public static Task<string?> ReadAsync(GovernanceDbContext db, string key, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        return db.Settings.AsNoTracking().Where(s => s.Key == key).Select(s => s.Value).FirstOrDefaultAsync(cancellationToken);
    }

    /// <summary>Replaces the setting's value when it still is <paramref name="expected"/> (another replica may have replaced it first).</summary>
    public static Task<int> ReplaceAsync(GovernanceDbContext db, string key, string expected, string value, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        return db.Settings.Where(s => s.Key == key && s.Value == expected).ExecuteUpdateAsync(u => u.SetProperty(s => s.Value, value), cancellationToken);
    }

    /// <summary>
    /// The setting's value; when it has none yet, stores <paramref name="initial"/>'s first. Replicas
    /// starting together race to store theirs: the insert of one wins and the others read its value.
    /// Null when the setting can be neither read nor stored.
    /// </summary>
    public static async Task<string?> ReadOrAddAsync(GovernanceDbContext db, string key, Func<string> initial, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        ArgumentNullException.ThrowIfNull(initial);
        for (var attempt = 0; attempt < 2; attempt++)
        {
            var stored = await db.Settings.AsNoTracking()
                .Where(s => s.Key == key)
                .Select(s => s.Value)
                .FirstOrDefaultAsync(cancellationToken);
            if (stored is not null)
            {
                return stored;
            }

            db.Settings.Add(new SettingRow { Key = key, Value = initial() });
            try
            {
                await db.SaveChangesAsync(cancellationToken);
            }
            catch (DbUpdateException)
            {
                // Another replica stored its value at the same moment: read theirs.
                db.ChangeTracker.Clear();
            }
        }

        return null;
    }
}
