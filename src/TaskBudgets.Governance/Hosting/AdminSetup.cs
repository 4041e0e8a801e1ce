using Microsoft.Extensions.Options;
using TaskBudgets.Governance.Admin;
using TaskBudgets.Governance.Api;
using TaskBudgets.Governance.Auth;

namespace TaskBudgets.Governance.Hosting;

/// <summary>Composes the control plane: API keys and their checks on every RPC, and the admin service.</summary>
public static class AdminSetup
{
    /// <summary>The key check every call passes through (<see cref="CallPipeline"/>) and the admin service.</summary>
    public static IHostApplicationBuilder AddGovernanceAdmin(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        services.AddOptions<AuthOptions>().Bind(builder.Configuration.GetSection(AuthOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<IValidateOptions<AuthOptions>, AuthOptionsValidation>();

        services.AddSingleton<KeyDirectory>();
        services.AddSingleton<AccessRules>();
        services.AddSingleton<RequestRateLimiter>();
        services.AddSingleton<FailedAuthentications>();
        services.AddSingleton<CallAuthorization>();

        // The first admin key is in place before the server listens.
        services.AddHostedService<AdminKeyBootstrap>();

        services.AddSingleton<AdminChanges>();
        services.AddSingleton<PolicyAdmin>();
        services.AddSingleton<KeyAdmin>();
        services.AddSingleton<UsageSummaries>();
        services.AddSingleton<BudgetSimulator>();
        services.AddSingleton<PolicyReplay>();
        services.AddSingleton<CalibrationReport>();
        services.AddSingleton<AuditLog>();
        return builder;
    }

    public static WebApplication MapGovernanceAdmin(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        // Undecodable requests are refused as such (see RequestGuard), as on BudgetService.
        var limit = app.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<ServerOptions>>().Value.MaxReceiveMessageBytes;
        app.MapGrpcService<AdminGrpcService>().Add(e => RequestGuard.Apply(e, limit, TaskBudgets.V1.AdminService.Descriptor));
        return app;
    }
}
