using Microsoft.Extensions.Options;

namespace TaskBudgets.Governance.Storage;

/// <summary>
/// Lets one hot-path write (a group commit or a lease change) at a time into an embedded SQLite
/// database, and does nothing for the server databases. SQLite has one write lock per file: a
/// writer that finds it taken polls for it with sleeps of up to 100 ms (busy_timeout), so the
/// group commit and lease changes racing for it cost each other tens of milliseconds. Waiting
/// here instead hands the lock over the moment it is free.
/// </summary>
public sealed class SqliteWriteGate(IOptions<StorageOptions> options)
{
    private readonly SemaphoreSlim? gate = options.Value.Provider == DatabaseProvider.Sqlite ? new SemaphoreSlim(1, 1) : null;

    /// <summary>Waits for the gate (at once on PostgreSQL and SQL Server); dispose the result to leave it.</summary>
    public async ValueTask<Entered> EnterAsync(CancellationToken cancellationToken)
    {
        if (gate is null)
        {
            return default;
        }

        await gate.WaitAsync(cancellationToken);
        return new Entered(gate);
    }

    /// <summary>Holding the gate until disposed.</summary>
    public readonly struct Entered(SemaphoreSlim? gate) : IDisposable
    {
        public void Dispose() => gate?.Release();
    }
}
