using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using TaskBudgets.Client;
using TaskBudgets.Gateway.Settings;

namespace TaskBudgets.Gateway.Proxy;

/// <summary>
/// What a call is, from its x-taskbudgets-* headers, else the caller key's defaults, else the
/// route's, else the gateway's. The headers never go upstream.
/// </summary>
internal static class CallHeaders
{
    public const string Prefix = "x-taskbudgets-";
    public const string Org = "x-taskbudgets-org";
    public const string Project = "x-taskbudgets-project";
    public const string Principal = "x-taskbudgets-principal";
    public const string TaskType = "x-taskbudgets-task-type";
    public const string Complexity = "x-taskbudgets-complexity";
    public const string Phase = "x-taskbudgets-phase";
    public const string Attempt = "x-taskbudgets-attempt";
    public const string TaskId = "x-taskbudgets-task-id";
    public const string RequestId = "x-taskbudgets-request-id";

    /// <summary>The task type when nothing names one: the tier's "*" rule answers it unless the tier has a "default" rule.</summary>
    public const string DefaultTaskType = "default";

    /// <summary>The budget request for a call, or the reason it cannot be made (a message for the caller).</summary>
    public static (BudgetRequest? Request, string? Problem) Read(HttpRequest request, string model, string callerKey, GatewayOptions options, CallDefaults route, long bodyBytes)
    {
        var keyDefaults = KeyDefaultsFor(callerKey, options);
        string? Pick(string header, Func<CallDefaults, string?> field) =>
            request.Headers[header].FirstOrDefault() is { Length: > 0 } given ? given.Trim()
            : (keyDefaults is null ? null : field(keyDefaults)) ?? field(route) ?? field(options.Defaults);

        var org = Pick(Org, d => d.OrgId);
        if (org is null)
        {
            return (null, $"The call names no org: send the {Org} header (or configure Gateway:Defaults:OrgId).");
        }

        double? complexity = null;
        if (request.Headers[Complexity].FirstOrDefault() is { Length: > 0 } c)
        {
            if (!double.TryParse(c, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || value is < 0 or > 1)
            {
                return (null, $"{Complexity} must be a number 0..1 (it is '{c}').");
            }

            complexity = value;
        }
        else
        {
            complexity = keyDefaults?.Complexity ?? route.Complexity ?? options.Defaults.Complexity;
        }

        var phaseText = Pick(Phase, d => d.Phase);
        var phase = Client.Phase.Standard;
        if (phaseText is not null)
        {
            if (CallDefaults.ParsePhase(phaseText) is not { } parsed)
            {
                return (null, $"{Phase} must be standard, preliminary or deep (it is '{phaseText}').");
            }

            phase = parsed;
        }

        var attempt = 0;
        if (request.Headers[Attempt].FirstOrDefault() is { Length: > 0 } a &&
            (!int.TryParse(a, NumberStyles.None, CultureInfo.InvariantCulture, out attempt) || attempt is < 1 or > 100))
        {
            return (null, $"{Attempt} must be a whole number 1..100 (it is '{a}').");
        }

        return (new BudgetRequest
        {
            OrgId = org,
            ProjectId = Pick(Project, d => d.ProjectId),
            PrincipalId = Pick(Principal, d => d.PrincipalId),
            TaskType = Pick(TaskType, d => d.TaskType) ?? DefaultTaskType,
            Model = model,
            TaskId = request.Headers[TaskId].FirstOrDefault() is { Length: > 0 } task ? task.Trim() : null,
            RequestId = RequestIdOf(request),
            Complexity = complexity,
            Phase = phase,
            Attempt = attempt,

            // About four bytes of JSON per input token: an estimate the decision may use for long inputs.
            EstimatedInputTokens = Math.Min(bodyBytes / 4, 10_000_000),
        }, null);
    }

    /// <summary>
    /// The grant's idempotency key: the caller's x-taskbudgets-request-id, else one derived from its
    /// Idempotency-Key and the SDK's retry count (each attempt is its own call upstream, so its own
    /// grant), else none (the SDK makes a fresh one).
    /// </summary>
    private static string? RequestIdOf(HttpRequest request)
    {
        if (request.Headers[RequestId].FirstOrDefault() is { Length: > 0 } given)
        {
            return given.Trim();
        }

        if (request.Headers["idempotency-key"].FirstOrDefault() is not { Length: > 0 } key)
        {
            return null;
        }

        var retry = request.Headers["x-stainless-retry-count"].FirstOrDefault() is { Length: > 0 and < 4 } r && r.All(char.IsAsciiDigit) ? r : "0";
        return "gw-" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)))[..40] + "-" + retry;
    }

    private static CallDefaults? KeyDefaultsFor(string callerKey, GatewayOptions options)
    {
        if (options.Keys.Count == 0)
        {
            return null;
        }

        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(callerKey)));
        return options.Keys.FirstOrDefault(k => string.Equals(k.KeySha256, hash, StringComparison.OrdinalIgnoreCase))?.Defaults;
    }
}
