namespace TaskBudgets.Governance.Telemetry;

/// <summary>What operators see. Bound from the "Telemetry" section.</summary>
public sealed class TelemetryOptions
{
    public const string Section = "Telemetry";

    /// <summary>
    /// Orgs whose quota utilisation gets an org label. Default none: per-org labels multiply
    /// series, so they are opt-in for the orgs worth watching one by one.
    /// </summary>
    public List<string> OrgLabels { get; set; } = [];

    /// <summary>OTLP endpoint for traces (e.g. http://otel-collector:4317). Default none: no trace export.</summary>
    public Uri? OtlpEndpoint { get; set; }
}
