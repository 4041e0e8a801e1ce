using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using TaskBudgets.Governance.Quotas;
using TaskBudgets.Governance.Storage;

namespace TaskBudgets.Governance.Hosting;

/// <summary>Ready: started (policy loaded), the database answers with every migration applied, and leases are being renewed.</summary>
public sealed class ReadinessCheck(DatabaseStartup startup, IDbContextFactory<GovernanceDbContext> contexts, LeaseRenewal renewal) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (!startup.Ready)
        {
            return HealthCheckResult.Unhealthy("starting: migrations and policy not loaded yet");
        }

        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        if (!await db.Database.CanConnectAsync(cancellationToken))
        {
            return HealthCheckResult.Unhealthy("the database does not answer");
        }

        var pending = (await db.Database.GetPendingMigrationsAsync(cancellationToken)).ToList();
        if (pending.Count > 0)
        {
            return HealthCheckResult.Unhealthy("migrations not applied: " + string.Join(", ", pending));
        }

        return renewal.Healthy
            ? HealthCheckResult.Healthy()
            : HealthCheckResult.Unhealthy($"lease renewal has not completed since {renewal.LastPass:O}");
    }
}
