using System.Diagnostics;
using System.Diagnostics.Metrics;
using TaskBudgets.Governance.Budgeting.Calibration;
using TaskBudgets.Governance.Telemetry;

namespace TaskBudgets.Governance.Adaptive;

/// <summary>
/// The calibration's gauges, per tier and rule task type (tier-wide rows only, so labels stay
/// bounded by the policy): reasoning used over reserved, truncation rate, and the current and
/// recommended base budgets.
/// </summary>
public static class CalibrationGauges
{
    public static void Register(GovernanceMetrics metrics, CalibrationBook calibration)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        ArgumentNullException.ThrowIfNull(calibration);
        var meter = metrics.Meter;
        meter.CreateObservableGauge(
            "taskbudgets.calibration.used_granted.ratio",
            () => Calibrated(calibration, v => v.ReservationEfficiency),
            "1",
            "Reasoning tokens used over reasoning tokens granted (decayed), per tier and task type.");
        meter.CreateObservableGauge(
            "taskbudgets.calibration.truncation.ratio",
            () => Calibrated(calibration, v => v.TruncationRate),
            "1",
            "Share of calls that stopped on MAX_TOKENS (decayed), per tier and task type.");
        meter.CreateObservableGauge(
            "taskbudgets.calibration.samples",
            () => Calibrated(calibration, v => v.Samples),
            "{call}",
            "Decayed calls behind each tier and task type's calibration.");
        meter.CreateObservableGauge(
            "taskbudgets.calibration.budget_tokens",
            () => Budgets(calibration),
            "{token}",
            "Base reasoning budget per tier and task type: budget=\"current\" (in force) and budget=\"recommended\" (the calibration's).");
        meter.CreateObservableGauge(
            "taskbudgets.calibration.used_tokens",
            () => Percentiles(calibration),
            "{token}",
            "Reasoning tokens used per tier and task type at quantile 0.5, 0.9, 0.95 and 0.99 (censoring-aware); censored=\"true\": the data cannot place it, the value is the lower bound it lies beyond.");
    }

    private static IEnumerable<Measurement<double>> Calibrated(CalibrationBook calibration, Func<CalibrationView, double> value)
    {
        foreach (var view in calibration.Current.Views)
        {
            if (view.Key.OrgId.Length == 0)
            {
                yield return new Measurement<double>(value(view), new TagList { { "tier", view.Key.Tier }, { "task_type", view.Key.TaskType } });
            }
        }
    }

    private static IEnumerable<Measurement<long>> Percentiles(CalibrationBook calibration)
    {
        foreach (var view in calibration.Current.Views)
        {
            if (view.Key.OrgId.Length == 0)
            {
                yield return Percentile(view, "0.5", view.UsedP50);
                yield return Percentile(view, "0.9", view.UsedP90);
                yield return Percentile(view, "0.95", view.UsedP95);
                yield return Percentile(view, "0.99", view.UsedP99);
            }
        }
    }

    private static Measurement<long> Percentile(CalibrationView view, string quantile, UsagePercentile value) =>
        new(value.Tokens, new TagList { { "tier", view.Key.Tier }, { "task_type", view.Key.TaskType }, { "quantile", quantile }, { "censored", value.Censored ? "true" : "false" } });

    private static IEnumerable<Measurement<long>> Budgets(CalibrationBook calibration)
    {
        foreach (var view in calibration.Current.Views)
        {
            if (view.Key.OrgId.Length == 0)
            {
                yield return new Measurement<long>(view.CurrentBudget, new TagList { { "tier", view.Key.Tier }, { "task_type", view.Key.TaskType }, { "budget", "current" } });
                yield return new Measurement<long>(view.RecommendedBudget, new TagList { { "tier", view.Key.Tier }, { "task_type", view.Key.TaskType }, { "budget", "recommended" } });
            }
        }
    }
}
