using TaskBudgets.Governance.Adaptive;
using TaskBudgets.Governance.Grants;
using TaskBudgets.Governance.Policies;
using TaskBudgets.Governance.Quotas;
using TaskBudgets.Governance.Telemetry;
using TaskBudgets.Governance.UsageHistory;

namespace TaskBudgets.Governance.Hosting;

/// <summary>Composes the domain: policy, quota engine, grants, settlement and usage counts.</summary>
public static class DomainSetup
{
    public static IHostApplicationBuilder AddGovernanceDomain(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        var configuration = builder.Configuration;
        services.AddOptions<PolicyOptions>().Bind(configuration.GetSection(PolicyOptions.Section)).ValidateDataAnnotations()
            .Validate(o => Enum.IsDefined(o.ApplyOnStart), "Policy:ApplyOnStart must be IfEmpty, Always or Never.")
            .ValidateOnStart();
        services.AddOptions<GrantOptions>().Bind(configuration.GetSection(GrantOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<Microsoft.Extensions.Options.IValidateOptions<GrantOptions>, GrantSigningKeys>();
        services.AddOptions<LeaseOptions>().Bind(configuration.GetSection(LeaseOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<LeaseOptions>()
            .Validate<Microsoft.Extensions.Options.IOptions<GrantOptions>>(
                (lease, grants) => lease.Ttl >= grants.Value.Ttl + (2 * lease.RenewInterval),
                "Leases:Ttl must be at least Grants:Ttl plus two Leases:RenewInterval, so no live grant outlives its lease.")
            .Validate(
                lease => lease.ReclaimFreeAfter >= 2 * lease.RenewInterval,
                "Leases:ReclaimFreeAfter must be at least two Leases:RenewInterval, so a healthy replica keeps its leases.")
            .Validate<Microsoft.Extensions.Options.IOptions<GrantOptions>>(
                (lease, grants) => 2 * lease.MaxClockSkew < grants.Value.Ttl,
                "Leases:MaxClockSkew must be less than half of Grants:Ttl.");

        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<PolicyCatalog>();
        services.AddSingleton<ReplicaIdentity>();
        services.AddSingleton<GrantTokens>();
        services.AddSingleton<GrantBook>();
        services.AddSingleton<AnsweredRequests>();
        services.AddSingleton<CapacityLeases>();
        services.AddSingleton<QuotaLedger>();
        services.AddSingleton<GrantIssuer>();
        services.AddSingleton<UsageSettlement>();
        services.AddSingleton<TaskBudgetLedger>();
        services.AddOptions<CalibrationOptions>().Bind(configuration.GetSection(CalibrationOptions.Section)).ValidateDataAnnotations()
            .Validate(o => o.Retention >= o.HalfLife, "Calibration:Retention must be at least Calibration:HalfLife.")
            .ValidateOnStart();
        services.AddSingleton<CalibrationBook>();
        services.AddOptions<UsageOptions>().Bind(configuration.GetSection(UsageOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<UsageCounters>();
        services.AddOptions<TaskBudgetOptions>().Bind(configuration.GetSection(TaskBudgetOptions.Section)).ValidateDataAnnotations().ValidateOnStart();

        // Start-up work runs before the server listens; the loops after it.
        services.AddSingleton<DatabaseStartup>();
        services.AddHostedService(sp => sp.GetRequiredService<DatabaseStartup>());
        services.AddSingleton<LeaseRenewal>();
        services.AddHostedService(sp => sp.GetRequiredService<LeaseRenewal>());
        services.AddHostedService<GrantExpiry>();
        services.AddSingleton<PolicyRefresh>();
        services.AddHostedService(sp => sp.GetRequiredService<PolicyRefresh>());
        services.AddSingleton<CalibrationSync>();
        services.AddHostedService(sp => sp.GetRequiredService<CalibrationSync>());
        services.AddHostedService(sp => sp.GetRequiredService<UsageCounters>());
        return builder;
    }

    /// <summary>Adds the gauges that read the domain's live state: reservations, quota utilisation, calibration.</summary>
    public static WebApplication MapGovernanceGauges(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var metrics = app.Services.GetRequiredService<GovernanceMetrics>();
        QuotaGauges.Register(metrics, app.Services.GetRequiredService<GrantBook>(), app.Services.GetRequiredService<QuotaLedger>());
        CalibrationGauges.Register(metrics, app.Services.GetRequiredService<CalibrationBook>());
        return app;
    }
}
