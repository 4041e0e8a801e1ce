using System.Net;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using TaskBudgets.Client;
using TaskBudgets.Gateway.Providers;
using TaskBudgets.Gateway.Proxy;
using TaskBudgets.Gateway.Settings;
using TaskBudgets.Gateway.Telemetry;

namespace TaskBudgets.Gateway.Hosting;

/// <summary>Composes the gateway: options, the SDK with the caller's key, the forwarder, routes, health and metrics.</summary>
public static class GatewaySetup
{
    /// <summary>The gateway's name in telemetry.</summary>
    public const string ServiceName = "taskbudgets-gateway";

    public static WebApplicationBuilder AddGateway(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);

        // YARP logs every forwarded call at Information: a line per model call is the metrics' job.
        builder.Logging.AddFilter("Yarp", LogLevel.Warning);
        builder.Logging.AddFilter("System.Net.Http.HttpClient", LogLevel.Warning);
        builder.Services.AddOptions<GatewayOptions>().Bind(builder.Configuration.GetSection(GatewayOptions.Section)).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<GatewayOptions>, GatewayOptionsValidator>();
        builder.Services.AddSingleton<ProviderCredentials>();
        builder.Services.AddSingleton<UpstreamClient>();
        builder.Services.AddSingleton<GatewayMetrics>();
        builder.Services.AddSingleton<GovernedCall>();
        builder.Services.AddSingleton<PendingReports>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<PendingReports>());
        builder.Services.AddHttpForwarder();

        // The service sees the caller's own key on every call (CallerKeyHandler), never one of the gateway's.
        builder.Services.AddTaskBudgetsClient(builder.Configuration).AddHttpMessageHandler(() => new CallerKeyHandler());

        builder.Services.AddHealthChecks().AddCheck<GovernanceReadinessCheck>("governance", tags: ["ready"]);
        builder.Services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService(ServiceName))
            .WithMetrics(metrics => metrics
                .AddMeter(GatewayMetrics.MeterName)
                .AddAspNetCoreInstrumentation()
                .AddRuntimeInstrumentation()
                .AddPrometheusExporter(o => o.ScrapeResponseCacheDurationMilliseconds = 0));

        var gateway = builder.Configuration.GetSection(GatewayOptions.Section).Get<GatewayOptions>() ?? new GatewayOptions();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            if (gateway.ListenAddress is "*" or "")
            {
                kestrel.ListenAnyIP(gateway.Port);
            }
            else
            {
                kestrel.Listen(IPAddress.Parse(gateway.ListenAddress), gateway.Port);
            }
        });
        return builder;
    }

    public static WebApplication MapGateway(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var options = app.Services.GetRequiredService<IOptions<GatewayOptions>>().Value;
        var credentials = app.Services.GetRequiredService<ProviderCredentials>();
        if (options.Anthropic.Enabled)
        {
            var route = new GovernedRoute(options.Anthropic, credentials.Anthropic);
            Map(app, "/v1/messages", new AnthropicMessages(), route);
        }

        if (options.OpenAi.Enabled)
        {
            var route = new GovernedRoute(options.OpenAi, credentials.OpenAi);
            Map(app, "/v1/chat/completions", new OpenAiChatCompletions(), route);
            Map(app, "/v1/responses", new OpenAiResponses(), route);
        }

        if (options.Gemini.Enabled)
        {
            var route = new GovernedRoute(options.Gemini, credentials.Gemini);
            var gemini = new GeminiGenerateContent();
            Map(app, "/v1beta/models/{model}:{action:regex(^(generateContent|streamGenerateContent)$)}", gemini, route);
            Map(app, "/v1/models/{model}:{action:regex(^(generateContent|streamGenerateContent)$)}", gemini, route);
        }

        app.MapHealthChecks("/healthz", new HealthCheckOptions { Predicate = _ => false });
        app.MapHealthChecks("/readyz", new HealthCheckOptions { Predicate = c => c.Tags.Contains("ready") });
        app.MapPrometheusScrapingEndpoint("/metrics");
        return app;
    }

    private static void Map(WebApplication app, string pattern, Provider provider, GovernedRoute route) =>
        app.MapPost(pattern, (HttpContext context, GovernedCall call) => call.HandleAsync(context, provider, route));
}
