using System.Text.Json;
using TaskBudgets.Client;

namespace TaskBudgets.Gateway.Metering;

/// <summary>
/// Reads one call's usage and stop reason from its answer, one JSON message at a time: the whole
/// body of a plain answer, the data of each server-sent event of a streamed one.
/// </summary>
internal abstract class UsageMeter
{
    /// <summary>Content deltas seen: at least one token each, what a stream cut before its usage counts.</summary>
    protected long Deltas { get; set; }

    /// <summary>Whether the answer carried its final usage (a stream that ran to its end).</summary>
    public bool Final { get; protected set; }

    /// <summary>Takes one JSON message of the answer.</summary>
    public abstract void Observe(JsonElement message);

    /// <summary>
    /// What the call used so far. Before the final usage, output tokens are at least the content
    /// deltas streamed (each is one token or more), so a stream cut short is not reported as free.
    /// </summary>
    public abstract Usage Usage { get; }

    /// <summary>Why the model stopped; unspecified while unknown.</summary>
    public StopReason StopReason { get; protected set; }

    protected static long Number(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var n) ? n : 0;

    protected static string? Text(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    protected static JsonElement Child(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) ? value : default;
}
