using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Grpc.JsonTranscoding;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Options;
using TaskBudgets.Governance.Api;
using TaskBudgets.Governance.Telemetry;
using TaskBudgets.V1;

namespace TaskBudgets.Governance.Hosting;

/// <summary>Composes the network surface: gRPC with its error mapping, HTTP/JSON transcoding, health, reflection, ports.</summary>
public static class ApiSetup
{
    public static IHostApplicationBuilder AddGovernanceApi(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddOptions<ServerOptions>().Bind(builder.Configuration.GetSection(ServerOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        var server = builder.Configuration.GetSection(ServerOptions.Section).Get<ServerOptions>() ?? new ServerOptions();

        // Plaintext gRPC needs an HTTP/2-only port; HTTP/JSON (transcoded), metrics and health are on HTTP/1.1.
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            Listen(kestrel, server.ListenAddress, server.GrpcPort, HttpProtocols.Http2);
            Listen(kestrel, server.ListenAddress, server.HttpPort, HttpProtocols.Http1);
        });

        builder.Services.AddSingleton<GovernanceErrorInterceptor>();
        builder.Services.AddSingleton<RpcMetricsInterceptor>();
        builder.Services.AddGrpc(o =>
        {
            // Outermost first: metrics see the status the error mapping produced.
            o.Interceptors.Add<RpcMetricsInterceptor>();
            o.Interceptors.Add<GovernanceErrorInterceptor>();
            o.MaxReceiveMessageSize = server.MaxReceiveMessageBytes;
            o.EnableDetailedErrors = false;
        }).AddJsonTranscoding(o =>
        {
            // Errors go out as google.rpc.Status JSON; its details (ErrorInfo, BadRequest, ...) need their types here.
            o.TypeRegistry = Google.Protobuf.Reflection.TypeRegistry.FromFiles(Google.Rpc.ErrorDetailsReflection.Descriptor);
        });
        builder.Services.AddGrpcReflection();
        builder.Services.AddHealthChecks()
            .AddCheck("live", () => Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckResult.Healthy(), tags: ["live"])
            .AddCheck<ReadinessCheck>("ready", tags: ["ready"]);
        builder.Services.AddGrpcHealthChecks(o =>
        {
            // "" is liveness (the process answers); the service name is readiness (the database too).
            o.Services.Map(string.Empty, r => !r.Tags.Contains("ready"));
            o.Services.Map(BudgetService.Descriptor.FullName, r => r.Tags.Contains("ready"));
        });
        return builder;
    }

    public static WebApplication MapGovernanceApi(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        // HTTP/JSON bodies get the gRPC message limit too (Kestrel's default would be 30 MB).
        var bodyLimit = new RequestSizeLimit(app.Services.GetRequiredService<IOptions<ServerOptions>>().Value.MaxReceiveMessageBytes);
        app.MapGrpcService<BudgetGrpcService>().Add(e =>
        {
            if (e.Metadata.OfType<GrpcJsonTranscodingMetadata>().Any())
            {
                e.Metadata.Add(bodyLimit);
            }

            RequestGuard.Apply(e, bodyLimit.MaxRequestBodySize!.Value, BudgetService.Descriptor);
        });
        app.MapGrpcReflectionService();
        app.MapGrpcHealthChecksService();
        app.MapHealthChecks("/healthz", new HealthCheckOptions { Predicate = _ => false });
        app.MapHealthChecks("/readyz", new HealthCheckOptions { Predicate = c => c.Tags.Contains("ready") });
        return app;
    }

    private sealed record RequestSizeLimit(long? MaxRequestBodySize) : IRequestSizeLimitMetadata;

    private static void Listen(KestrelServerOptions kestrel, string address, int port, HttpProtocols protocols)
    {
        if (address is "localhost")
        {
            kestrel.ListenLocalhost(port, o => o.Protocols = protocols);
        }
        else if (address is "*" or "0.0.0.0")
        {
            kestrel.ListenAnyIP(port, o => o.Protocols = protocols);
        }
        else
        {
            kestrel.Listen(System.Net.IPAddress.Parse(address), port, o => o.Protocols = protocols);
        }
    }
}
