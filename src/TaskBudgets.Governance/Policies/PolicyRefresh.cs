using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using TaskBudgets.Governance.Storage;

namespace TaskBudgets.Governance.Policies;

/// <summary>
/// Keeps this replica's policy current: a change made anywhere is in force here within one
/// refresh interval (Policy:RefreshInterval).
/// </summary>
public sealed partial class PolicyRefresh(
    IDbContextFactory<GovernanceDbContext> contexts,
    PolicyCatalog catalog,
    IOptions<PolicyOptions> options,
    TimeProvider time,
    StorageOutage outage,
    ILogger<PolicyRefresh> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.RefreshInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    await RefreshAsync(stoppingToken);
                    outage.Succeeded();
                }
                catch (Exception e) when (!stoppingToken.IsCancellationRequested && StorageOutage.IsOutage(e))
                {
                    // The database is away: told once by StorageOutage, not every interval.
                    outage.Failed("refreshing the policy", e);
                }
                catch (Exception e) when (!stoppingToken.IsCancellationRequested)
                {
                    LogRefreshFailed(logger, e);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>Loads the policy if its version moved.</summary>
    public async Task RefreshAsync(CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var version = await PolicyRows.ReadVersionAsync(db, cancellationToken);
        if (version != catalog.Current.Version)
        {
            catalog.Replace(await StoredPolicy.LoadAsync(db, cancellationToken));
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Policy refresh failed; keeping the policy in force.")]
    private static partial void LogRefreshFailed(ILogger logger, Exception exception);
}
