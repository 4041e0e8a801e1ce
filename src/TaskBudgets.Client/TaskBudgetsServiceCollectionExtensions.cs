using Grpc.Net.ClientFactory;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using TaskBudgets.Client;
using V1 = TaskBudgets.V1;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the TaskBudgets SDK: <see cref="IBudgetClient"/> over a gRPC client from Grpc.Net.ClientFactory.</summary>
public static class TaskBudgetsServiceCollectionExtensions
{
    /// <summary>The name of the SDK's gRPC client in the HttpClient factory.</summary>
    public const string ClientName = "TaskBudgets.Client";

    /// <summary>
    /// Adds <see cref="IBudgetClient"/> with <see cref="TaskBudgetsClientOptions"/> bound from the
    /// "TaskBudgets" section of <paramref name="configuration"/> (Address, ApiKey, OrgId, Deadline,
    /// MaxRetries, InitialBackoff, MaxBackoff, Fallback:Mode, Fallback:ReasoningTokens, ...), validated
    /// when the host starts.
    /// </summary>
    /// <returns>The gRPC client's builder, to add handlers or configure the channel.</returns>
    public static IHttpClientBuilder AddTaskBudgetsClient(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<TaskBudgetsClientOptions>().Bind(configuration.GetSection(TaskBudgetsClientOptions.Section));
        return AddCore(services);
    }

    /// <summary>Adds <see cref="IBudgetClient"/> with options set in code, validated when the host starts.</summary>
    /// <returns>The gRPC client's builder, to add handlers or configure the channel.</returns>
    public static IHttpClientBuilder AddTaskBudgetsClient(this IServiceCollection services, Action<TaskBudgetsClientOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<TaskBudgetsClientOptions>().Configure(configure);
        return AddCore(services);
    }

    private static IHttpClientBuilder AddCore(IServiceCollection services)
    {
        services.AddOptions<TaskBudgetsClientOptions>().ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<TaskBudgetsClientOptions>, TaskBudgetsClientOptionsValidator>());
        services.TryAddTransient<IBudgetClient>(sp => new BudgetClient(
            sp.GetRequiredService<GrpcClientFactory>().CreateClient<V1.BudgetService.BudgetServiceClient>(ClientName),
            sp.GetRequiredService<IOptions<TaskBudgetsClientOptions>>().Value,
            sp.GetService<TimeProvider>() ?? TimeProvider.System,
            sp.GetService<ILogger<BudgetClient>>() ?? NullLogger<BudgetClient>.Instance));
        return services.AddGrpcClient<V1.BudgetService.BudgetServiceClient>(ClientName, (sp, o) =>
            o.Address = sp.GetRequiredService<IOptions<TaskBudgetsClientOptions>>().Value.Address);
    }
}
