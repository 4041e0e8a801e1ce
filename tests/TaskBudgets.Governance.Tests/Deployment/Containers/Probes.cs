using System.Text.Json.Nodes;
using Grpc.Health.V1;
using static TaskBudgets.Governance.Tests.Deployment.Manifests.RenderedChart;

namespace TaskBudgets.Governance.Tests.Deployment.Containers;

/// <summary>Runs a rendered probe (gRPC health or HTTP GET) against a started container, as the kubelet would.</summary>
public static class Probes
{
    /// <summary>Null when the probe passes, else what the kubelet would have seen.</summary>
    public static async Task<string?> RunAsync(RunningContainer running, JsonObject probe, IReadOnlyDictionary<string, int> namedPorts)
    {
        if (probe["grpc"] is JsonObject grpc)
        {
            Assert.Equal(running.Container.GrpcPort, Port(grpc["port"], namedPorts));
            var health = new Health.HealthClient(running.Channel);
            var answer = await health.CheckAsync(new HealthCheckRequest { Service = Text(grpc["service"]) ?? "" }, deadline: DateTime.UtcNow.AddSeconds(10));
            return answer.Status == HealthCheckResponse.Types.ServingStatus.Serving ? null : $"gRPC health {Text(grpc["service"])}: {answer.Status}";
        }

        var get = (JsonObject)probe["httpGet"]!;
        var port = running.HostPort(Port(get["port"], namedPorts));
        // The kubelet's HTTPS probe does not verify the certificate.
        var https = Text(get["scheme"]) == "HTTPS";
        using var handler = new HttpClientHandler();
        if (https)
        {
            handler.ServerCertificateCustomValidationCallback = HttpClientHandler.DangerousAcceptAnyServerCertificateValidator;
        }

        using var http = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(10) };
        using var response = await http.GetAsync(new Uri($"{(https ? "https" : "http")}://127.0.0.1:{port}{Text(get["path"])}"));
        return response.IsSuccessStatusCode ? null : $"GET {Text(get["path"])}: {(int)response.StatusCode}";
    }

    private static int Port(JsonNode? port, IReadOnlyDictionary<string, int> namedPorts)
    {
        var text = Text(port)!;
        return int.TryParse(text, out var number) ? number : namedPorts[text];
    }
}
