using System.Diagnostics;
using System.Diagnostics.Metrics;
using TaskBudgets.Governance.Budgeting;
using TaskBudgets.Governance.Telemetry;

namespace TaskBudgets.Governance.Quotas;

/// <summary>The gauges that read live capacity state: reservations held and quota utilisation.</summary>
public static class QuotaGauges
{
    public static void Register(GovernanceMetrics metrics, GrantBook book, QuotaLedger ledger)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        ArgumentNullException.ThrowIfNull(book);
        ArgumentNullException.ThrowIfNull(ledger);
        metrics.Meter.CreateObservableGauge("taskbudgets.active_reservations", () => book.ActiveCount, "{grant}", "Grants holding reservations on this replica.");
        metrics.Meter.CreateObservableGauge(
            "taskbudgets.quota.utilization.ratio",
            () => Utilisation(metrics, ledger),
            "1",
            "Used and reserved share of each quota window, 0..1 (the highest per label set).");
    }

    private static IEnumerable<Measurement<double>> Utilisation(GovernanceMetrics metrics, QuotaLedger ledger)
    {
        var highest = new Dictionary<(string Metric, string Window, string Scope, string Org), double>();
        foreach (var bucket in ledger.Buckets)
        {
            var quota = bucket.Quota;
            var key = (quota.Metric.Label(), quota.Window.Label(), quota.Scope.Label(), metrics.LabelsOrg(quota.OrgId) ? quota.OrgId : string.Empty);
            var utilisation = bucket.Headroom().Utilisation;
            highest[key] = Math.Max(utilisation, highest.GetValueOrDefault(key));
        }

        foreach (var ((metric, window, scope, org), value) in highest)
        {
            var tags = new TagList { { "metric", metric }, { "window", window }, { "scope", scope } };
            if (org.Length > 0)
            {
                tags.Add("org", org);
            }

            yield return new Measurement<double>(value, tags);
        }
    }
}
