using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Grpc.JsonTranscoding;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
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
        builder.Services.AddSingleton<IValidateOptions<ServerOptions>, ServerTlsValidator>();
        builder.Services.AddSingleton(sp => new ServerCertificates(
            sp.GetRequiredService<IOptions<ServerOptions>>().Value.Tls, sp.GetRequiredService<ILogger<ServerCertificates>>()));
        var server = builder.Configuration.GetSection(ServerOptions.Section).Get<ServerOptions>() ?? new ServerOptions();

        // gRPC needs an HTTP/2-only port when plaintext (no ALPN to choose); HTTP/JSON (transcoded),
        // metrics and health are on HTTP/1.1. With TLS both ports take the certificate in force at
        // each handshake, so a rotated one is served without a restart.
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            var tls = server.Tls.Enabled ? new Lazy<ServerCertificates>(kestrel.ApplicationServices.GetRequiredService<ServerCertificates>) : null;
            Listen(kestrel, server.ListenAddress, server.GrpcPort, HttpProtocols.Http2, tls, server.Tls.RequireClientCertificate);
            Listen(kestrel, server.ListenAddress, server.HttpPort, HttpProtocols.Http1, tls, server.Tls.RequireClientCertificate && server.Tls.RequireClientCertificateOnHttpPort);
        });

        builder.Services.AddSingleton<ErrorTranslation>();
        builder.Services.AddSingleton<RpcMetrics>();
        builder.Services.AddSingleton<CallPipeline>();
        builder.Services.AddGrpc(o =>
        {
            // The one interceptor: the key check, error translation, HTTP error headers and RPC metrics.
            o.Interceptors.Add<CallPipeline>();
            o.MaxReceiveMessageSize = server.MaxReceiveMessageBytes;
            o.CompressionProviders = [new CheckedGzip(server.MaxReceiveMessageBytes)];
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

            // Answered from the last background pass: otherwise every Check, every probe, runs the
            // checks (readiness opens a database connection) on the calling request.
            o.UseHealthChecksCache = true;
        });
        builder.Services.Configure<HealthCheckPublisherOptions>(o =>
        {
            // Primed at start (HealthCachePriming), then refreshed often enough for a probe every few seconds.
            o.Delay = TimeSpan.FromSeconds(2);
            o.Period = TimeSpan.FromSeconds(2);
        });
        builder.Services.AddHostedService<HealthCachePriming>();
        return builder;
    }

    public static WebApplication MapGovernanceApi(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        // HTTP/JSON bodies get the gRPC message limit too (Kestrel's default would be 30 MB).
        var server = app.Services.GetRequiredService<IOptions<ServerOptions>>().Value;
        if (!server.GrpcPortServesHttpRoutes)
        {
            // The gRPC port is for gRPC clients only: HTTP/JSON, metrics and health are on the HTTP
            // port, where a network policy or a proxy can treat them apart.
            var grpcPort = server.GrpcPort;
            app.Use((context, next) =>
            {
                if (context.Connection.LocalPort == grpcPort && context.Request.ContentType?.StartsWith("application/grpc", StringComparison.OrdinalIgnoreCase) != true)
                {
                    context.Response.StatusCode = StatusCodes.Status404NotFound;
                    return Task.CompletedTask;
                }

                return next(context);
            });
        }

        var bodyLimit = new RequestSizeLimit(server.MaxReceiveMessageBytes);
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

    private static void Listen(KestrelServerOptions kestrel, string address, int port, HttpProtocols protocols, Lazy<ServerCertificates>? tls, bool requireClientCertificate)
    {
        void Configure(ListenOptions o)
        {
            o.Protocols = protocols;
            if (tls is not null)
            {
                o.UseHttps(new TlsHandshakeCallbackOptions
                {
                    OnConnection = _ => ValueTask.FromResult(tls.Value.ForHandshake(requireClientCertificate)),
                });
            }
        }

        if (address is "localhost")
        {
            kestrel.ListenLocalhost(port, Configure);
        }
        else if (address is "*" or "0.0.0.0")
        {
            kestrel.ListenAnyIP(port, Configure);
        }
        else
        {
            kestrel.Listen(System.Net.IPAddress.Parse(address), port, Configure);
        }
    }
}
