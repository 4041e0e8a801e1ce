using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Options;
using TaskBudgets.Governance.Budgeting;

namespace TaskBudgets.Governance.Telemetry;

/// <summary>
/// The service's own instruments. Labels are bounded: task types are the policy's rule names
/// (a caller's free-form task type maps to its rule), orgs only where configured.
/// </summary>
public sealed class GovernanceMetrics
{
    public const string MeterName = "TaskBudgets.Governance";

    private readonly ConcurrentDictionary<(string Tier, string TaskType), RuleCounts> counts = new();
    private readonly Counter<long> denials;
    private readonly Histogram<double> usageRatio;
    private long expired;
    private readonly Counter<long> leaseOperations;
    private readonly Counter<long> calibrationChanges;
    private readonly HashSet<string> orgLabels;

    public GovernanceMetrics(IMeterFactory meters, IOptions<TelemetryOptions> options)
    {
        ArgumentNullException.ThrowIfNull(meters);
        ArgumentNullException.ThrowIfNull(options);
        orgLabels = new HashSet<string>(options.Value.OrgLabels, StringComparer.Ordinal);
        var meter = meters.Create(MeterName);
        meter.CreateObservableCounter("taskbudgets.grants", ObserveGrants, "{grant}", "GetBudget answers by decision (granted, reduced, denied).");
        denials = meter.CreateCounter<long>("taskbudgets.denials", "{grant}", "GetBudget denials by the quota metric that denied.");
        meter.CreateObservableCounter("taskbudgets.granted_tokens", ObserveGrantedTokens, "{token}", "Tokens granted, by kind (reasoning, output).");
        meter.CreateObservableCounter("taskbudgets.used_tokens", ObserveUsedTokens, "{token}", "Tokens reported used, by kind.");
        usageRatio = meter.CreateHistogram<double>(
            "taskbudgets.usage_ratio",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0, 1.25, 2.0] },
            description: "Output tokens used over output tokens granted, per settled grant.");
        meter.CreateObservableCounter("taskbudgets.truncations", () => Observe(c => c.Truncations), "{call}", "Calls that stopped on MAX_TOKENS.");
        meter.CreateObservableCounter("taskbudgets.over_grant_calls", () => Observe(c => c.OverGrantCalls), "{call}", "Calls that used more than their grant.");
        meter.CreateObservableCounter("taskbudgets.late_reports", () => Observe(c => c.LateReports), "{report}", "Reports for grants that had expired or been released.");
        meter.CreateObservableCounter("taskbudgets.expired_grants", () => Volatile.Read(ref expired), "{grant}", "Grants that expired unreported and gave their capacity back.");
        leaseOperations = meter.CreateCounter<long>("taskbudgets.lease.operations", "{operation}", "Capacity lease operations on the database, by operation and outcome.");
        calibrationChanges = meter.CreateCounter<long>("taskbudgets.calibration.changes", "{change}", "Changes of need this replica detected, per tier and task type (the calibration then relearns).");
        Meter = meter;
    }

    public void CalibrationChanged(string tier, string ruleTaskType) =>
        calibrationChanges.Add(1, new TagList { { "tier", tier }, { "task_type", ruleTaskType } });

    public Meter Meter { get; }

    public void Granted(BudgetDecision decision, string tier, string ruleTaskType, ModelFamily family)
    {
        var rule = CountsFor(tier, ruleTaskType);
        rule.CountGrant(family, decision.Kind == DecisionKind.Reduced ? RuleCounts.DecisionReduced : RuleCounts.DecisionGranted);
        Interlocked.Add(ref rule.ReasoningGranted, decision.ReasoningTokens);
        Interlocked.Add(ref rule.OutputGranted, decision.MaxOutputTokens);
    }

    public void Denied(QuotaMetric metric, string tier, string ruleTaskType, ModelFamily family)
    {
        CountsFor(tier, ruleTaskType).CountGrant(family, RuleCounts.DecisionDenied);
        denials.Add(1, new TagList { { "metric", metric.Label() }, { "tier", tier }, { "task_type", ruleTaskType } });
    }

    public void Settled(string tier, string ruleTaskType, in Usage usage, long grantedOutput, bool truncated, bool overGrantCall, bool late)
    {
        var rule = CountsFor(tier, ruleTaskType);
        Interlocked.Add(ref rule.InputUsed, usage.InputTokens);
        Interlocked.Add(ref rule.CachedInputUsed, usage.CachedInputTokens);
        Interlocked.Add(ref rule.CacheWriteInputUsed, usage.CacheWriteInputTokens);
        Interlocked.Add(ref rule.OutputUsed, usage.OutputTokens);
        Interlocked.Add(ref rule.ReasoningUsed, usage.ReasoningTokens);
        if (grantedOutput > 0)
        {
            usageRatio.Record((double)usage.OutputTokens / grantedOutput, new TagList { { "tier", tier }, { "task_type", ruleTaskType } });
        }

        if (truncated)
        {
            Interlocked.Increment(ref rule.Truncations);
        }

        if (overGrantCall)
        {
            Interlocked.Increment(ref rule.OverGrantCalls);
        }

        if (late)
        {
            Interlocked.Increment(ref rule.LateReports);
        }
    }

    public void Expired(int count)
    {
        if (count > 0)
        {
            Interlocked.Add(ref expired, count);
        }
    }

    public void LeaseOperation(string operation, bool succeeded, long count = 1) =>
        leaseOperations.Add(count, new TagList { { "operation", operation }, { "outcome", succeeded ? "ok" : "refused" } });

    /// <summary>
    /// A lease grow, tagged with whether a grant waited for it (path "grant") or the renewal made it
    /// ahead of need (path "renewal"): grants should almost never wait on the database.
    /// </summary>
    public void LeaseGrown(bool succeeded, bool forGrant) =>
        leaseOperations.Add(1, new TagList { { "operation", "grow" }, { "outcome", succeeded ? "ok" : "refused" }, { "path", forGrant ? "grant" : "renewal" } });

    public void LeaseFailed(string operation) =>
        leaseOperations.Add(1, new TagList { { "operation", operation }, { "outcome", "error" } });

    /// <summary>Whether quota gauges carry <paramref name="orgId"/> as a label (Telemetry:OrgLabels).</summary>
    public bool LabelsOrg(string orgId) => orgLabels.Contains(orgId);

    private RuleCounts CountsFor(string tier, string taskType) =>
        counts.TryGetValue((tier, taskType), out var rule) ? rule : counts.GetOrAdd((tier, taskType), static k => new RuleCounts(k.Tier, k.TaskType));

    private IEnumerable<Measurement<long>> ObserveGrants()
    {
        foreach (var rule in counts.Values)
        {
            foreach (var family in RuleCounts.Families)
            {
                for (var decision = RuleCounts.DecisionGranted; decision <= RuleCounts.DecisionDenied; decision++)
                {
                    // Only what happened, as Counter.Add would have shown it.
                    if (rule.Grants(family, decision) is var count and > 0)
                    {
                        yield return new Measurement<long>(count, new TagList { { "decision", Decision(decision) }, { "tier", rule.Tier }, { "task_type", rule.TaskType }, { "model_family", Family(family) } });
                    }
                }
            }
        }
    }

    private IEnumerable<Measurement<long>> ObserveGrantedTokens()
    {
        foreach (var rule in counts.Values.Where(r => r.HasGranted))
        {
            yield return Tokens("reasoning", Volatile.Read(ref rule.ReasoningGranted), rule);
            yield return Tokens("output", Volatile.Read(ref rule.OutputGranted), rule);
        }
    }

    private IEnumerable<Measurement<long>> ObserveUsedTokens() =>
        Observe(c => c.InputUsed, "input")
            .Concat(Observe(c => c.CachedInputUsed, "cached_input"))
            .Concat(Observe(c => c.CacheWriteInputUsed, "cache_write_input"))
            .Concat(Observe(c => c.OutputUsed, "output"))
            .Concat(Observe(c => c.ReasoningUsed, "reasoning"));

    // A series appears once its count is above zero, as it did when each call added to a Counter.
    private IEnumerable<Measurement<long>> Observe(Func<RuleCounts, long> count, string? kind = null)
    {
        foreach (var rule in counts.Values)
        {
            if (count(rule) is var value and > 0)
            {
                yield return kind is null
                    ? new Measurement<long>(value, new TagList { { "tier", rule.Tier }, { "task_type", rule.TaskType } })
                    : Tokens(kind, value, rule);
            }
        }
    }

    private static Measurement<long> Tokens(string kind, long value, RuleCounts rule) =>
        new(value, new TagList { { "kind", kind }, { "tier", rule.Tier }, { "task_type", rule.TaskType } });

    private static string Decision(int decision) => decision switch
    {
        RuleCounts.DecisionGranted => "granted",
        RuleCounts.DecisionReduced => "reduced",
        _ => "denied",
    };

    private static string Family(ModelFamily family) => family switch
    {
        ModelFamily.Anthropic => "anthropic",
        ModelFamily.OpenAi => "openai",
        _ => "gemini",
    };
}
