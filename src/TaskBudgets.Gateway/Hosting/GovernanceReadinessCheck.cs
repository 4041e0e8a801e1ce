using Grpc.Health.V1;
using Grpc.Net.Client;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using TaskBudgets.Client;

namespace TaskBudgets.Gateway.Hosting;

/// <summary>Ready when the governance service answers the gRPC health check as serving: without it no call can get a budget.</summary>
public sealed class GovernanceReadinessCheck(IOptions<TaskBudgetsClientOptions> client) : IHealthCheck, IDisposable
{
    private readonly GrpcChannel channel = GrpcChannel.ForAddress(client.Value.Address ?? new Uri("http://localhost:8080"));

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            var answer = await new Health.HealthClient(channel).CheckAsync(new HealthCheckRequest(), deadline: DateTime.UtcNow.AddSeconds(2), cancellationToken: cancellationToken);
            return answer.Status == HealthCheckResponse.Types.ServingStatus.Serving
                ? HealthCheckResult.Healthy()
                : HealthCheckResult.Unhealthy($"the governance service is {answer.Status}");
        }
        catch (Grpc.Core.RpcException e)
        {
            return HealthCheckResult.Unhealthy($"the governance service does not answer ({e.StatusCode})");
        }
    }

    public void Dispose() => channel.Dispose();
}
