using Microsoft.Extensions.Options;
using TaskBudgets.Governance.Quotas;

namespace TaskBudgets.Governance.Grants;

/// <summary>Frees the reservations of grants that were neither reported nor released in time, and forgets their request ids.</summary>
public sealed class GrantExpiry(GrantBook book, AnsweredRequests answered, IOptions<GrantOptions> options, TimeProvider time) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.SweepInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                var now = time.GetUtcNow();
                book.SweepExpired(now);
                answered.SweepExpired(now);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}
