namespace TaskBudgets.Governance.Tests.Infrastructure;

/// <summary>
/// One server process for a class of CLI tests: the shipped sample policy (org "demo"), a data
/// directory of its own, the admin key <see cref="AdminKey"/>; stopped when the class is done.
/// </summary>
public sealed class CliServer : IAsyncLifetime
{
    public const string AdminKey = GovernanceApp.AdminKey;
    private readonly TempDirectory directory = new();
    private ServerProcess? server;

    public string Address => $"http://127.0.0.1:{(server ?? throw new InvalidOperationException("The server is not started yet.")).GrpcPort}";

    public async ValueTask InitializeAsync()
    {
        server = await ServerProcess.StartAsync(directory.Path, new Dictionary<string, string>
        {
            ["Policy:File"] = Path.Combine(Repository.Root, "src", "TaskBudgets.Governance", "policies", "policies.yaml"),
            ["Logging:LogLevel:Default"] = "Warning",

            // The calibration CLI test waits for reports to reach GetCalibration.
            ["Calibration:SyncInterval"] = "00:00:00.200",
        });
    }

    public async ValueTask DisposeAsync()
    {
        if (server is not null)
        {
            await server.DisposeAsync();
        }

        directory.Dispose();
    }
}
