using Grpc.Core;
using Grpc.Net.Client;
using TaskBudgets.Governance.Tests.Infrastructure;
using TaskBudgets.V1;

namespace TaskBudgets.Governance.Tests.Deployment.Containers;

/// <summary>A started <see cref="LocalContainer"/>: its ports as this machine sees them, and clients for them.</summary>
public sealed class RunningContainer(LocalContainer container, LocalServer server) : IAsyncDisposable
{
    private readonly GrpcChannel channel = GrpcChannel.ForAddress(server.GrpcAddress);

    public LocalContainer Container => container;

    public GrpcChannel Channel => channel;

    public Uri HttpAddress => server.HttpAddress;

    public string Output => server.Output;

    /// <summary>Runs <paramref name="command"/> in this container's environment, e.g. its HEALTHCHECK.</summary>
    public Task<CommandResult> ExecAsync(IReadOnlyList<string> command) => container.ExecAsync(command, server.GrpcPort, server.HttpPort);

    /// <summary>The loopback port a container port is published on.</summary>
    public int HostPort(int containerPort) =>
        containerPort == container.GrpcPort ? server.GrpcPort
        : containerPort == container.HttpPort ? server.HttpPort
        : throw new Xunit.Sdk.XunitException($"Port {containerPort} is neither the server's gRPC port ({container.GrpcPort}) nor its HTTP port ({container.HttpPort}).");

    /// <summary>The admin key the server generated into its /data mount, as an operator reads it after a first start.</summary>
    public string GeneratedAdminKey() => File.ReadAllText(Path.Combine(container.HostPath("/data"), "admin-key")).Trim();

    /// <summary>A GetBudget with this key: what every caller of the service does first.</summary>
    public async Task<GetBudgetResponse> GetBudgetAsync(string adminKey, string org, string model)
    {
        var budgets = new BudgetService.BudgetServiceClient(channel);
        return await budgets.GetBudgetAsync(
            new GetBudgetRequest { OrgId = org, TaskType = "support", Model = model },
            new Metadata { { "authorization", "Bearer " + adminKey } },
            deadline: DateTime.UtcNow.AddSeconds(30));
    }

    /// <summary>A GetBudget over TLS, through <paramref name="handler"/> (trusting the server's CA, presenting a client certificate).</summary>
    public async Task<GetBudgetResponse> GetBudgetOverTlsAsync(HttpMessageHandler handler, string adminKey, string org, string model)
    {
        using var tls = GrpcChannel.ForAddress(server.GrpcAddress, new GrpcChannelOptions { HttpHandler = handler });
        return await new BudgetService.BudgetServiceClient(tls).GetBudgetAsync(
            new GetBudgetRequest { OrgId = org, TaskType = "support", Model = model },
            new Metadata { { "authorization", "Bearer " + adminKey } },
            deadline: DateTime.UtcNow.AddSeconds(30));
    }

    public async ValueTask DisposeAsync()
    {
        channel.Dispose();
        await server.DisposeAsync();
    }
}
