using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using TaskBudgets.Governance.Storage;

namespace TaskBudgets.Governance.Hosting;

/// <summary>Ready: started (migrated, policy loaded) and the database answers.</summary>
public sealed class ReadinessCheck(DatabaseStartup startup, IDbContextFactory<GovernanceDbContext> contexts) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (!startup.Ready)
        {
            return HealthCheckResult.Unhealthy("starting: migrations and policy not loaded yet");
        }

        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        return await db.Database.CanConnectAsync(cancellationToken)
            ? HealthCheckResult.Healthy()
            : HealthCheckResult.Unhealthy("the database does not answer");
    }
}
