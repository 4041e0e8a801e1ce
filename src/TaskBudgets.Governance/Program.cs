using TaskBudgets.Governance.Hosting;
using TaskBudgets.Governance.Storage;
using TaskBudgets.Governance.Telemetry;

var builder = WebApplication.CreateBuilder(args);
builder.AddGovernanceStorage();
builder.AddGovernanceDomain();
builder.AddGovernanceApi();
builder.AddGovernanceTelemetry();
builder.AddGovernanceAdmin();

var app = builder.Build();
if (args.Contains("migrate"))
{
    await DatabaseStartup.MigrateAsync(app.Services, CancellationToken.None);
    return;
}

app.MapGovernanceApi();
app.MapGovernanceTelemetry();
app.MapGovernanceAdmin();
await app.RunAsync();

/// <summary>The entry point, visible to WebApplicationFactory in tests.</summary>
public partial class Program;
