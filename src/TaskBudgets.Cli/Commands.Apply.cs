using System.CommandLine;
using System.Text.Json;
using TaskBudgets.Policies;

namespace TaskBudgets.Cli;

internal sealed partial class Commands
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    private Command Apply()
    {
        var file = new Option<string>("--file", "-f") { Description = "The policy file (YAML, the format the server loads at start).", Required = true };
        var dryRun = new Option<bool>("--dry-run") { Description = "Only show the changes." };
        var prune = new Option<bool>("--prune") { Description = "Also delete orgs, tiers and quotas (of the file's orgs) that the file does not have." };
        return Leaf("apply", "Make the service's policy match a policy file: shows the diff, then applies it. Idempotent.", async (p, s, ct) =>
        {
            var checkedFile = PolicyDocument.Load(p.GetValue(file)!).Check();
            var admin = s.Server.Admin;
            var plan = await PolicyPlan.DiffAsync(checkedFile, admin, p.GetValue(prune), ct);
            var kept = p.GetValue(prune) ? [] : await PolicyPlan.KeptAsync(checkedFile, admin, ct);
            var dry = p.GetValue(dryRun);
            if (!s.Output.Json)
            {
                s.Output.Out.WriteLine(plan.Count == 0 ? "No changes: the service matches the file." : $"{plan.Count} change{(plan.Count == 1 ? string.Empty : "s")}{(dry ? " (dry run, nothing applied)" : string.Empty)}:");
                foreach (var change in plan)
                {
                    s.Output.Out.WriteLine("  " + change);
                }
            }

            var applied = 0;
            if (!dry)
            {
                foreach (var change in plan)
                {
                    await change.Apply(admin, ct);
                    applied++;
                }

                if (!s.Output.Json && plan.Count > 0)
                {
                    s.Output.Out.WriteLine($"Applied {applied} change{(applied == 1 ? string.Empty : "s")}.");
                }
            }

            if (s.Output.Json)
            {
                var report = new
                {
                    dry_run = dry,
                    applied,
                    changes = plan.Select(c => new { action = c.Action, kind = c.Kind, name = c.Name, detail = c.Detail }),
                    kept,
                };
                s.Output.Out.WriteLine(JsonSerializer.Serialize(report, Indented));
            }
            else if (kept.Count > 0)
            {
                s.Output.Out.WriteLine($"Not in the file, kept: {string.Join(", ", kept)}");
            }

            return ExitCodes.Ok;
        }, file, dryRun, prune);
    }
}
