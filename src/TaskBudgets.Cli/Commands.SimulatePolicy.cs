using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using Google.Protobuf.WellKnownTypes;
using TaskBudgets.V1;

namespace TaskBudgets.Cli;

/// <summary>`taskbudgets simulate --policy FILE --since 7d`: SimulatePolicy, actual against projected.</summary>
internal sealed partial class Commands
{
    /// <summary>The flags of the policy replay mode of `simulate`.</summary>
    private sealed class PolicyReplayOptions
    {
        public Option<string?> Policy { get; } = Opt("--policy", "A candidate policy file (the server's policy file format): replay the calls settled recently under it.");

        public Option<string?> Since { get; } = Opt("--since", "With --policy: replay the calls settled this long ago up to now (or --to), e.g. 7d, 24h, 90m (default 7d).");

        public Option<string?> From { get; } = Opt("--from", "With --policy: from this time (ISO 8601) instead of --since.");

        public Option<string?> To { get; } = Opt("--to", "With --policy: up to this time (default: now).");

        public Symbol[] Symbols => [Policy, Since, From, To];

        /// <summary>One mode or the other: a GetBudget call (org, --task-type, --model) or a policy replay (--policy).</summary>
        public void Validate(CommandResult result, AskOptions ask)
        {
            if (result.GetResult(Policy) is not null)
            {
                return;
            }

            foreach (var option in new[] { Since, From, To })
            {
                if (result.GetResult(option) is not null)
                {
                    result.AddError($"{option.Name} needs --policy.");
                }
            }

            if (string.IsNullOrEmpty(result.GetValue(ask.Org)))
            {
                result.AddError("Required argument missing for command: 'simulate' (the org id; or --policy FILE to replay a policy).");
            }

            foreach (var option in new[] { ask.TaskType, ask.Model })
            {
                if (result.GetResult(option) is null)
                {
                    result.AddError($"Option '{option.Name}' is required.");
                }
            }
        }
    }

    private static async Task<int> SimulatePolicyAsync(ParseResult p, CliApp.Session s, PolicyReplayOptions replay, string policyFile, string? org, CancellationToken ct)
    {
        var request = new SimulatePolicyRequest
        {
            PolicyYaml = await File.ReadAllTextAsync(policyFile, ct),
            OrgId = org ?? string.Empty,
            StartTime = When(p.GetValue(replay.From), "--from"),
            EndTime = When(p.GetValue(replay.To), "--to"),
        };
        if (p.GetValue(replay.Since) is { } since)
        {
            request.Since = Duration.FromTimeSpan(Span(since, "--since"));
        }

        var r = await s.Server.Admin.SimulatePolicyAsync(request, cancellationToken: ct);
        s.Output.Write(r, () =>
        {
            s.Output.Out.WriteLine($"calls settled {Time(r.StartTime)} .. {Time(r.EndTime)}, {(request.OrgId.Length == 0 ? "every org" : "org " + request.OrgId)}, replayed under {Path.GetFileName(policyFile)}");
            var rows = new List<IReadOnlyList<string>>();
            foreach (var g in r.Groups.Append(r.Total))
            {
                var name = g == r.Total ? ("total", string.Empty, string.Empty) : (g.Tier, g.TaskType, g.CandidateRule + (g.Adaptive ? " (adaptive)" : string.Empty));
                rows.Add(ReplayRow(name.Item1, name.Item2, name.Item3, g.Calls, "actual", g.Actual, censored: false));
                rows.Add(ReplayRow(string.Empty, string.Empty, string.Empty, null, "projected", g.Projected, censored: true));
            }

            s.Output.Table(["TIER", "TASK TYPE", "CANDIDATE RULE", "CALLS", "", "RESERVED/CALL", "RESERVED", "USED", "EFFICIENCY", "TRUNCATED", "RATE", "CENSORED", "DENIALS"], rows);
            if (r.UnmatchedCalls > 0)
            {
                s.Output.Out.WriteLine($"{N(r.UnmatchedCalls)} calls not replayed: the candidate has no tier for them");
            }

            foreach (var note in r.Notes)
            {
                s.Output.Out.WriteLine("note: " + note);
            }
        });
        return ExitCodes.Ok;
    }

    private static string[] ReplayRow(string tier, string taskType, string rule, long? calls, string which, ReplayOutcome o, bool censored) =>
    [
        tier, taskType, rule, calls is { } n ? N(n) : string.Empty, which,
        N((long)Math.Round(o.ReservedReasoningTokensPerCall)), N(o.ReservedReasoningTokens), N(o.UsedReasoningTokens),
        Percent(o.ReservationEfficiency), N(o.Truncations), Percent(o.TruncationRate),
        censored ? N(o.CensoredTruncations) : "-", N(o.Denials),
    ];

    /// <summary>"7d", "24h", "90m", "30s", or a TimeSpan ("1.12:00:00").</summary>
    private static TimeSpan Span(string text, string flag)
    {
        var units = new Dictionary<char, double> { ['d'] = 86_400, ['h'] = 3_600, ['m'] = 60, ['s'] = 1 };
        if (text.Length > 1 && units.TryGetValue(text[^1], out var seconds)
            && double.TryParse(text[..^1], NumberStyles.Float, CultureInfo.InvariantCulture, out var count) && count > 0)
        {
            return TimeSpan.FromSeconds(count * seconds);
        }

        return TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out var span) && span > TimeSpan.Zero
            ? span
            : throw new UsageException($"{flag}: '{text}' is not a duration (e.g. 7d, 24h, 90m, 30s).");
    }
}
