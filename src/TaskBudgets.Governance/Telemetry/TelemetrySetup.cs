using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace TaskBudgets.Governance.Telemetry;

/// <summary>Composes telemetry: the service's meter, ASP.NET Core and runtime metrics, Prometheus, optional OTLP traces, JSON logs with trace ids.</summary>
public static class TelemetrySetup
{
    /// <summary>The service's name in telemetry and, by default, in the database's session list.</summary>
    public const string ServiceName = "taskbudgets-governance";

    public static IHostApplicationBuilder AddGovernanceTelemetry(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var section = builder.Configuration.GetSection(TelemetryOptions.Section);
        builder.Services.AddOptions<TelemetryOptions>().Bind(section).ValidateOnStart();
        builder.Services.AddSingleton<GovernanceMetrics>();
        builder.Logging.Configure(o => o.ActivityTrackingOptions = ActivityTrackingOptions.TraceId | ActivityTrackingOptions.SpanId);

        // One set of RPC metrics: taskbudgets.rpc.duration (RpcMetrics) times every gRPC
        // and HTTP/JSON call with its gRPC status; ASP.NET Core's per-request HTTP metrics would
        // time the same calls again (all HTTP 200) at a cost on every call. Kestrel's connection
        // metrics stay; its queued-requests gauge is dropped, as Kestrel then skips counting each
        // HTTP/2 stream in and out of its queue, which nothing here reads.
        var otel = builder.Services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService(ServiceName))
            .WithMetrics(metrics => metrics
                .AddMeter(GovernanceMetrics.MeterName)
                .AddMeter("Microsoft.AspNetCore.Server.Kestrel")
                .AddView("kestrel.queued_requests", MetricStreamConfiguration.Drop)
                .AddRuntimeInstrumentation()
                .AddMeter("Microsoft.EntityFrameworkCore")
                .AddPrometheusExporter(o => o.ScrapeResponseCacheDurationMilliseconds = 0));
        var otlp = section.Get<TelemetryOptions>()?.OtlpEndpoint;
        if (otlp is not null)
        {
            otel.WithTracing(tracing => tracing
                .AddAspNetCoreInstrumentation()
                .AddOtlpExporter(o => o.Endpoint = otlp));
        }
        else
        {
            // ASP.NET Core starts an Activity and a log scope for every request while its hosting
            // logger is on, even at Critical, which it logs nothing at. Without tracing nothing
            // reads them: calls that log take their trace ids from CallTrace instead.
            builder.Logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.None);
        }

        return builder;
    }

    public static WebApplication MapGovernanceTelemetry(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.MapPrometheusScrapingEndpoint("/metrics");
        return app;
    }
}
