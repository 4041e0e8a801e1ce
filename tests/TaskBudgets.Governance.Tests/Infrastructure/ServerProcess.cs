using Grpc.Core.Interceptors;
using Grpc.Net.Client;
using TaskBudgets.V1;

namespace TaskBudgets.Governance.Tests.Infrastructure;

/// <summary>
/// The built server started as a real process on loopback ports, for what an in-process host
/// cannot show: a kill -9, several replicas, a real scrape.
/// </summary>
public sealed class ServerProcess : IAsyncDisposable
{
    private readonly LocalServer server;
    private GrpcChannel? channel;

    private ServerProcess(LocalServer server) => this.server = server;

    public int GrpcPort => server.GrpcPort;

    public int HttpPort => server.HttpPort;

    public Uri HttpAddress => server.HttpAddress;

    public GrpcChannel Channel => channel ??= GrpcChannel.ForAddress(server.GrpcAddress);

    /// <summary>The data plane, called with the first admin key.</summary>
    public BudgetService.BudgetServiceClient Budgets => new(Channel.Intercept(metadata =>
    {
        metadata.Add("authorization", "Bearer " + GovernanceApp.AdminKey);
        return metadata;
    }));

    /// <summary>The admin API, called with the first admin key.</summary>
    public AdminService.AdminServiceClient Admin => new(Channel.Intercept(metadata =>
    {
        metadata.Add("authorization", "Bearer " + GovernanceApp.AdminKey);
        return metadata;
    }));

    public string Output => server.Output;

    /// <summary>Starts the server on <paramref name="dataDirectory"/> and waits until it is ready.</summary>
    /// <exception cref="InvalidOperationException">It exited or was not ready; the message holds its output.</exception>
    /// <param name="httpHandler">Makes the readiness check's handler (see <see cref="LocalServer.StartAsync(string, string, IEnumerable{KeyValuePair{string, string}}, Action{string}?, Func{HttpMessageHandler}?)"/>).</param>
    public static async Task<ServerProcess> StartAsync(string dataDirectory, IDictionary<string, string>? settings = null, Func<HttpMessageHandler>? httpHandler = null)
    {
        var dll = LocalServer.BuiltAssembly(Repository.Configuration);
        var all = new Dictionary<string, string>
        {
            // The server's own appsettings.json (its log levels), as it runs when deployed.
            ["contentRoot"] = Path.GetDirectoryName(dll)!,
            ["Storage:DataDirectory"] = dataDirectory,
            ["Logging:Console:FormatterName"] = "simple",
            ["Auth:AdminKey"] = GovernanceApp.AdminKey,
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string>())
        {
            all[key] = value;
        }

        return new ServerProcess(await LocalServer.StartAsync(dll, dataDirectory, all, httpHandler: httpHandler));
    }

    /// <summary>kill -9: no shutdown, no flush, no goodbye.</summary>
    public Task KillAsync() => server.KillAsync();

    /// <summary>SIGSTOP: a replica that is alive but does nothing, as in a long pause, until <see cref="ResumeAsync"/>.</summary>
    public Task PauseAsync() => server.PauseAsync();

    /// <summary>SIGCONT.</summary>
    public Task ResumeAsync() => server.ResumeAsync();

    public async ValueTask DisposeAsync()
    {
        channel?.Dispose();
        await server.DisposeAsync();
    }
}
