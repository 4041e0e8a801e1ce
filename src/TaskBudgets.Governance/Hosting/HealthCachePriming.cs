using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace TaskBudgets.Governance.Hosting;

/// <summary>
/// The gRPC health service answers from the health-check cache, which the publisher refreshes in
/// the background; this fills it once at start-up, after the database is ready and before the
/// server takes calls, so the first probe finds an answer instead of NOT_FOUND.
/// </summary>
public sealed class HealthCachePriming(HealthCheckService checks, IEnumerable<IHealthCheckPublisher> publishers) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var report = await checks.CheckHealthAsync(cancellationToken);
        foreach (var publisher in publishers)
        {
            await publisher.PublishAsync(report, cancellationToken);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
