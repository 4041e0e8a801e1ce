using TaskBudgets.Governance.Hosting;
using TaskBudgets.Governance.Storage;
using TaskBudgets.Governance.Telemetry;

try
{
    if (args.Contains(HealthCheckCommand.Name))
    {
        return await HealthCheckCommand.RunAsync(args);
    }

    var builder = WebApplication.CreateBuilder(args);
    builder.AddGovernanceStorage();
    builder.AddGovernanceDomain();
    builder.AddGovernanceApi();
    builder.AddGovernanceTelemetry();
    builder.AddGovernanceAdmin();

    var app = builder.Build();
    if (args.Contains("migrate"))
    {
        var applied = await DatabaseStartup.MigrateAsync(app.Services, CancellationToken.None);
        Console.WriteLine(applied.Count == 0
            ? "No pending migrations: the database schema is up to date."
            : $"Applied {applied.Count} migration(s):{Environment.NewLine}  {string.Join(Environment.NewLine + "  ", applied)}");
        return 0;
    }

    app.MapGovernanceApi();
    app.MapGovernanceTelemetry();
    app.MapGovernanceGauges();
    app.MapGovernanceAdmin();
    await app.RunAsync();
    return 0;
}
catch (Exception e) when (ConfigurationErrors.Describe(e) is { } problem)
{
    await Console.Error.WriteLineAsync($"Configuration error: {problem}");
    return ConfigurationErrors.ExitCode;
}

/// <summary>The entry point, visible to WebApplicationFactory in tests.</summary>
public partial class Program;
