using System.CommandLine;
using System.Globalization;
using TaskBudgets.V1;

namespace TaskBudgets.Cli;

internal sealed partial class Commands
{
    private Command Calibration()
    {
        var tier = Opt("--tier", "Only this tier.");
        var taskType = Opt("--task-type", "Only this task type (a rule's, or \"*\").");
        var org = Opt("--org", "This org's own rows and its tier's (default: the tier-wide rows of every tier).");
        return Leaf("calibration", "What calls really used per tier and task type, the budget in force, the recommended one and its projected effect.", async (p, s, ct) =>
        {
            var r = await s.Server.Admin.GetCalibrationAsync(
                new GetCalibrationRequest { Tier = p.GetValue(tier) ?? string.Empty, TaskType = p.GetValue(taskType) ?? string.Empty, OrgId = p.GetValue(org) ?? string.Empty },
                cancellationToken: ct);
            s.Output.Write(r, () =>
            {
                s.Output.Table(
                    ["TIER", "TASK TYPE", "ORG", "SAMPLES", "USED P50", "P90", "P95", "P99", "TRUNCATED", "EFFICIENCY", "CURRENT", "RECOMMENDED", "PROJ. TRUNCATED", "PROJ. RESERVED/CALL", "LADDER", "PROJ. RESERVED/TASK", "FEATURES", "CHANGES", "MODE"],
                    r.Calibrations.Select(c => new[]
                    {
                        c.Tier, c.TaskType, c.OrgId.Length == 0 ? "-" : c.OrgId, c.Samples.ToString("0", CultureInfo.InvariantCulture),
                        Used(c.UsedP50, c.UsedP50Censored), Used(c.UsedP90, c.UsedP90Censored), Used(c.UsedP95, c.UsedP95Censored), Used(c.UsedP99, c.UsedP99Censored), Percent(c.TruncationRate), Percent(c.ReservationEfficiency),
                        N(c.CurrentBudget), N(c.RecommendedBudget), Percent(c.ProjectedTruncationRate), N(c.ProjectedReservedTokensPerCall),
                        c.EscalationBudgets.Count == 0 ? "-" : string.Join(" > ", c.EscalationBudgets.Select(N)), N(c.ProjectedReservedTokensPerTask), Features(c), Changes(c),
                        !c.Adaptive ? "static" : c.Recalibrating ? "adaptive (recalibrating)" : c.Active ? "adaptive" : $"adaptive (needs {c.MinSamples})",
                    }));
                s.Output.Out.WriteLine($"policy version {r.PolicyVersion}");
            });
            return ExitCodes.Ok;
        }, tier, taskType, org);
    }

    /// <summary>A percentile of what calls used, or where the data cannot place it, the value it lies beyond.</summary>
    private static string Used(long tokens, bool censored) => censored ? $"beyond {N(tokens)} (censored)" : N(tokens);

    /// <summary>
    /// The learned effects of the phase and the input size: "preliminary x0.3, deep x2.5, input
    /// x1.2 x1.5 - x2.4" (a band not learned is "-"); "-" when none is learned.
    /// </summary>
    private static string Features(V1.Calibration c)
    {
        var parts = new List<string>();
        if (c.PreliminaryPhaseFactor > 0)
        {
            parts.Add(string.Create(CultureInfo.InvariantCulture, $"preliminary x{c.PreliminaryPhaseFactor:0.##}"));
        }

        if (c.DeepPhaseFactor > 0)
        {
            parts.Add(string.Create(CultureInfo.InvariantCulture, $"deep x{c.DeepPhaseFactor:0.##}"));
        }

        if (c.LongInputFactors.Count > 0)
        {
            parts.Add("input " + string.Join(' ', c.LongInputFactors.Select(f => f > 0 ? string.Create(CultureInfo.InvariantCulture, $"x{f:0.##}") : "-")));
        }

        return parts.Count == 0 ? "-" : string.Join(", ", parts);
    }

    /// <summary>Changes of need detected, and when the last one was (UTC).</summary>
    private static string Changes(V1.Calibration c) => c.ChangesDetected == 0
        ? "0"
        : string.Create(CultureInfo.InvariantCulture, $"{c.ChangesDetected} (last {c.LastChangeTime.ToDateTimeOffset():yyyy-MM-dd HH:mm}Z)");

    private static string Percent(double share) => share.ToString("0.0%", CultureInfo.InvariantCulture);
}
