using System.Diagnostics.Metrics;

namespace TaskBudgets.Gateway.Telemetry;

/// <summary>
/// The gateway's own metrics (meter "TaskBudgets.Gateway", scraped on /metrics). Tags are the API
/// (anthropic-messages, openai-chat, openai-responses, gemini) and small fixed sets of words.
/// </summary>
public sealed class GatewayMetrics
{
    public const string MeterName = "TaskBudgets.Gateway";

    private readonly Counter<long> requests;
    private readonly Counter<long> decisions;
    private readonly Histogram<double> upstreamDuration;
    private readonly Histogram<double> budgetDuration;

    public GatewayMetrics(IMeterFactory meters)
    {
        ArgumentNullException.ThrowIfNull(meters);
        var meter = meters.Create(MeterName);
        requests = meter.CreateCounter<long>("taskbudgets_gateway_requests", "{request}",
            "Calls the gateway finished, by API and outcome: reported (usage settled), cancelled (the caller left mid-answer, what streamed was reported), released (the upstream failed, the grant was given back), denied (no budget), rejected (a bad call or key), unavailable (the governance service could not be asked), report_failed (the usage report failed; the grant expires).");
        decisions = meter.CreateCounter<long>("taskbudgets_gateway_budget_decisions", "{decision}",
            "Answers of GetBudget to the gateway, by API and decision: granted, reduced, denied, error.");
        upstreamDuration = meter.CreateHistogram<double>("taskbudgets_gateway_upstream_duration", "s",
            "Time from sending a call upstream to the upstream's response headers, by API and status class (2xx, 4xx, 5xx, error).");
        budgetDuration = meter.CreateHistogram<double>("taskbudgets_gateway_budget_duration", "s",
            "Time GetBudget took, by API: what the gateway adds before a call goes upstream.");
    }

    public void Finished(string api, string outcome) =>
        requests.Add(1, new KeyValuePair<string, object?>("api", api), new KeyValuePair<string, object?>("outcome", outcome));

    public void Decided(string api, string decision, TimeSpan took)
    {
        decisions.Add(1, new KeyValuePair<string, object?>("api", api), new KeyValuePair<string, object?>("decision", decision));
        budgetDuration.Record(took.TotalSeconds, new KeyValuePair<string, object?>("api", api));
    }

    public void Upstream(string api, int? status, TimeSpan took) =>
        upstreamDuration.Record(took.TotalSeconds, new KeyValuePair<string, object?>("api", api), new KeyValuePair<string, object?>("status_class", status is { } s ? $"{s / 100}xx" : "error"));
}
