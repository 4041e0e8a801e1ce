using System.CommandLine;
using TaskBudgets.V1;

namespace TaskBudgets.Cli;

internal sealed partial class Commands
{
    private Command Usage()
    {
        var org = Arg("org", "The org id.");
        var project = Opt("--project", "Only this project.");
        var principal = Opt("--principal", "Only this principal.");
        var tier = Opt("--tier", "Only this tier.");
        var taskType = Opt("--task-type", "Only this task type.");
        var from = Opt("--from", "From this time (ISO 8601; default: start of today, UTC).");
        var to = Opt("--to", "Up to this time (default: now).");
        return Leaf("usage", "An org's grants, denials and usage, and its quotas now.", async (p, s, ct) =>
        {
            var r = await s.Server.Admin.GetUsageSummaryAsync(
                new GetUsageSummaryRequest
                {
                    OrgId = p.GetValue(org),
                    ProjectId = p.GetValue(project) ?? string.Empty,
                    PrincipalId = p.GetValue(principal) ?? string.Empty,
                    Tier = p.GetValue(tier) ?? string.Empty,
                    TaskType = p.GetValue(taskType) ?? string.Empty,
                    StartTime = When(p.GetValue(from), "--from"),
                    EndTime = When(p.GetValue(to), "--to"),
                },
                cancellationToken: ct);
            s.Output.Write(r, () =>
            {
                s.Output.Out.WriteLine($"org {r.OrgId}, {Time(r.StartTime)} .. {Time(r.EndTime)}");
                s.Output.Fields(
                    ("grants", N(r.Grants)),
                    ("reduced grants", N(r.ReducedGrants)),
                    ("denials", N(r.Denials)),
                    ("reports", N(r.Reports)),
                    ("releases", N(r.Releases)),
                    ("truncations", N(r.Truncations)),
                    ("over-grant calls", N(r.OverGrantCalls)),
                    ("late reports", N(r.LateReports)));
                s.Output.Out.WriteLine();
                s.Output.Table(
                    ["TOKENS", "INPUT", "CACHED INPUT", "CACHE WRITE", "OUTPUT", "REASONING", "COST $"],
                    new[] { ("granted", r.Granted), ("reserved", r.Reserved), ("used", r.Used) }.Select(t => new[]
                    {
                        t.Item1, N(t.Item2.InputTokens), N(t.Item2.CachedInputTokens), N(t.Item2.CacheWriteInputTokens), N(t.Item2.OutputTokens), N(t.Item2.ReasoningTokens), Usd(t.Item2.CostMicros),
                    }));
                s.Output.Out.WriteLine();
                s.Output.Table(
                    ["QUOTA", "SUBJECT", "METRIC", "WINDOW", "LIMIT", "USED", "RESERVED", "REMAINING"],
                    r.Quotas.Select(q => new[] { q.QuotaId, q.Subject.Length == 0 ? "-" : q.Subject, MetricName(q.Metric), WindowName(q.Window), N(q.Limit), N(q.Used), N(q.Reserved), N(q.Remaining) }));
            });
            return ExitCodes.Ok;
        }, org, project, principal, tier, taskType, from, to);
    }

    /// <summary>The flags of a GetBudget request.</summary>
    private sealed class AskOptions
    {
        /// <param name="required">False where another mode of the command needs none of them (simulate --policy).</param>
        public AskOptions(bool required = true)
        {
            TaskType.Required = required;
            Model.Required = required;
            Org.Arity = required ? ArgumentArity.ExactlyOne : ArgumentArity.ZeroOrOne;
        }

        public Argument<string> Org { get; } = Arg("org", "The org id.");

        public Option<string> TaskType { get; } = new("--task-type") { Description = "The task type, e.g. support.", Required = true };

        public Option<string> Model { get; } = new("--model") { Description = "The model, e.g. claude-sonnet-4-5.", Required = true };

        public Option<string?> Project { get; } = Opt("--project", "The project.");

        public Option<string?> Principal { get; } = Opt("--principal", "The principal (end user).");

        public Option<double?> Complexity { get; } = new("--complexity") { Description = "0..1." };

        public Option<long> InputTokens { get; } = new("--input-tokens") { Description = "Estimated input tokens." };

        public Option<int> Attempt { get; } = new("--attempt") { Description = "1-based attempt number." };

        public Option<bool> Truncated { get; } = new("--previous-truncated") { Description = "The previous attempt stopped on MAX_TOKENS." };

        public Option<string> Phase { get; } = Choice("--phase", "preliminary, standard or deep.", "standard", "preliminary", "standard", "deep");

        public Option<string> Priority { get; } = Choice("--priority", "low, normal or high.", "normal", "low", "normal", "high");

        public Symbol[] Symbols => [Org, TaskType, Model, Project, Principal, Complexity, InputTokens, Attempt, Truncated, Phase, Priority];

        public GetBudgetRequest Request(ParseResult p)
        {
            var features = new TaskFeatures
            {
                EstimatedInputTokens = p.GetValue(InputTokens),
                Attempt = p.GetValue(Attempt),
                PreviousStopReason = p.GetValue(Truncated) ? StopReason.MaxTokens : StopReason.Unspecified,
                Phase = p.GetValue(Phase) switch { "preliminary" => V1.Phase.Preliminary, "deep" => V1.Phase.Deep, _ => V1.Phase.Standard },
                Priority = p.GetValue(Priority) switch { "low" => V1.Priority.Low, "high" => V1.Priority.High, _ => V1.Priority.Normal },
            };
            if (p.GetValue(Complexity) is { } complexity)
            {
                features.Complexity = complexity;
            }

            return new GetBudgetRequest
            {
                OrgId = p.GetValue(Org),
                TaskType = p.GetValue(TaskType),
                Model = p.GetValue(Model),
                ProjectId = p.GetValue(Project) ?? string.Empty,
                PrincipalId = p.GetValue(Principal) ?? string.Empty,
                Features = features,
            };
        }
    }

    private Command Simulate()
    {
        var ask = new AskOptions(required: false);
        var replay = new PolicyReplayOptions();
        var command = Leaf("simulate", "What GetBudget would answer now, reserving nothing; with --policy, what a candidate policy file would have done to the calls settled recently.", async (p, s, ct) =>
        {
            if (p.GetValue(replay.Policy) is { } policyFile)
            {
                return await SimulatePolicyAsync(p, s, replay, policyFile, p.GetValue(ask.Org), ct);
            }

            var r = await s.Server.Admin.SimulateBudgetAsync(new SimulateBudgetRequest { BudgetRequest = ask.Request(p) }, cancellationToken: ct);
            s.Output.Write(r, () =>
            {
                if (r.Denied)
                {
                    s.Output.Out.WriteLine($"denied ({r.DenialReason}): {r.DenialMessage}");
                }
                else
                {
                    WriteGrant(s.Output, r.Grant);
                }
            });
            return ExitCodes.Ok;
        }, [.. ask.Symbols, .. replay.Symbols]);
        command.Validators.Add(result => replay.Validate(result, ask));
        return command;
    }

    private Command Budget()
    {
        var ask = new AskOptions();
        var release = new Option<bool>("--release") { Description = "Release the grant right away (a dry call that leaves nothing reserved)." };
        var symbols = ask.Symbols.Append(release).ToArray();
        return Group("budget", "The data plane, for a quick manual call.", Leaf("get", "Call GetBudget (it reserves, until reported, released or expired).", async (p, s, ct) =>
        {
            var grant = await s.Server.Budgets.GetBudgetAsync(ask.Request(p), cancellationToken: ct);
            if (p.GetValue(release))
            {
                await s.Server.Budgets.ReleaseBudgetAsync(new ReleaseBudgetRequest { GrantId = grant.GrantId }, cancellationToken: ct);
            }

            s.Output.Write(grant, () =>
            {
                WriteGrant(s.Output, grant);
                s.Output.Out.WriteLine($"grant {grant.GrantId}");
                s.Output.Out.WriteLine(p.GetValue(release) ? "released" : $"expires {Time(grant.ExpiresAt)}");
            });
            return ExitCodes.Ok;
        }, symbols));
    }

    private static void WriteGrant(Output output, GetBudgetResponse g)
    {
        output.Fields(
            ("decision", Lower(g.Decision, "DECISION_")),
            ("tier", $"{g.Tier} (rule {g.RuleTaskType})"),
            ("max output tokens", N(g.Budget.MaxOutputTokens)),
            ("reasoning tokens", N(g.Budget.ReasoningTokens)),
            ("effort", Lower(g.Budget.Effort, "EFFORT_")),
            ("task budget tokens", N(g.Budget.TaskBudgetTokens)),
            ("policy version", N(g.PolicyVersion)));
        foreach (var reason in g.Reasons)
        {
            output.Out.WriteLine($"  - {Lower(reason.Code, "REASON_CODE_")}: {reason.Text}");
        }

        if (g.Quotas.Count > 0)
        {
            output.Table(
                ["QUOTA", "METRIC", "WINDOW", "LIMIT", "RESERVED", "REMAINING"],
                g.Quotas.Select(q => new[] { q.QuotaId, MetricName(q.Metric), WindowName(q.Window), N(q.Limit), N(q.Reserved), N(q.Remaining) }));
        }
    }
}
