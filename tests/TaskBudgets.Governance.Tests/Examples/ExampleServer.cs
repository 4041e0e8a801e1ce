using System.Globalization;
using TaskBudgets.Governance.Tests.Infrastructure;

namespace TaskBudgets.Governance.Tests.Examples;

/// <summary>
/// One server process for the example clients: the shipped sample policy (org "demo", the
/// examples' default), and the environment the examples' READMEs tell a user to set.
/// </summary>
public sealed class ExampleServer : IAsyncLifetime
{
    private readonly TempDirectory directory = new();
    private ServerProcess? server;

    public ServerProcess Server => server ?? throw new InvalidOperationException("The server is not started yet.");

    /// <summary>TASKBUDGETS_ADDRESS, _HTTP, _ORG and _API_KEY for this server.</summary>
    public IReadOnlyDictionary<string, string> ClientEnvironment => new Dictionary<string, string>
    {
        ["TASKBUDGETS_ADDRESS"] = "127.0.0.1:" + Server.GrpcPort.ToString(CultureInfo.InvariantCulture),
        ["TASKBUDGETS_HTTP"] = Server.HttpAddress.ToString().TrimEnd('/'),
        ["TASKBUDGETS_ORG"] = "demo",
        ["TASKBUDGETS_API_KEY"] = GovernanceApp.AdminKey,
    };

    public async ValueTask InitializeAsync() =>
        server = await ServerProcess.StartAsync(directory.Path, new Dictionary<string, string>
        {
            ["Policy:File"] = Path.Combine(Repository.Root, "src", "TaskBudgets.Governance", "policies", "policies.yaml"),
        });

    public async ValueTask DisposeAsync()
    {
        if (server is not null)
        {
            await server.DisposeAsync();
        }

        directory.Dispose();
    }
}
