using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using TaskBudgets.Governance.Tests.Infrastructure;
using TaskBudgets.Testing;

namespace TaskBudgets.Client.Tests.Infrastructure;

/// <summary>
/// The SDK as an application registers it (<c>AddTaskBudgetsClient</c>), talking to the in-process
/// server or to a closed port, through a <see cref="Wiretap"/>.
/// </summary>
public sealed class SdkHost : IAsyncDisposable
{
    private readonly ServiceProvider provider;

    private SdkHost(ServiceProvider provider, Wiretap wire, LogSink logs)
    {
        this.provider = provider;
        Wire = wire;
        Logs = logs;
    }

    /// <summary>Every call that reached the HTTP layer (a closed port fails before it: see <see cref="Logs"/>).</summary>
    public Wiretap Wire { get; }

    public LogSink Logs { get; }

    /// <summary>How many times the SDK retried <paramref name="method"/>, from its log.</summary>
    public int Retries(string method) => Logs.Entries.Count(e => e.Category == typeof(BudgetClient).FullName && e.Event.Id == 1 && e.Message.StartsWith(method + " ", StringComparison.Ordinal));

    /// <summary>A client as the application would resolve it.</summary>
    public IBudgetClient Budgets => provider.GetRequiredService<IBudgetClient>();

    /// <summary>The SDK talking to the real server hosted in process.</summary>
    public static SdkHost For(GovernanceApp app, Action<TaskBudgetsClientOptions>? configure = null) =>
        Create(app.Server.BaseAddress, configure, builder => builder.ConfigurePrimaryHttpMessageHandler(() => app.Server.CreateHandler()));

    /// <summary>The SDK pointed at a loopback port nothing listens on.</summary>
    public static SdkHost Unreachable(Action<TaskBudgetsClientOptions>? configure = null) =>
        Create(new Uri($"http://127.0.0.1:{FreePort.Next()}"), configure, _ => { });

    public ValueTask DisposeAsync() => provider.DisposeAsync();

    private static SdkHost Create(Uri address, Action<TaskBudgetsClientOptions>? configure, Action<IHttpClientBuilder> primary)
    {
        var wire = new Wiretap();
        var logs = new LogSink();
        var services = new ServiceCollection();
        services.AddLogging(b => b.SetMinimumLevel(LogLevel.Debug).AddProvider(logs));
        var builder = services.AddTaskBudgetsClient(o =>
        {
            o.Address = address;
            o.ApiKey = TaskBudgets.Governance.Tests.Infrastructure.GovernanceApp.AdminKey; // the test server's first admin key
            o.Deadline = TimeSpan.FromSeconds(10); // a busy 2-core machine; tests of deadlines set their own
            o.InitialBackoff = TimeSpan.FromMilliseconds(10);
            o.MaxBackoff = TimeSpan.FromMilliseconds(50);
            configure?.Invoke(o);
        });
        primary(builder);
        builder.AddHttpMessageHandler(() => wire).SetHandlerLifetime(Timeout.InfiniteTimeSpan);
        return new SdkHost(services.BuildServiceProvider(validateScopes: true), wire, logs);
    }
}
