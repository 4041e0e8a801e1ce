using Google.Protobuf.WellKnownTypes;
using Microsoft.EntityFrameworkCore;
using TaskBudgets.Governance.Adaptive;
using TaskBudgets.Governance.Budgeting;
using TaskBudgets.Governance.Budgeting.Calibration;
using TaskBudgets.Governance.Contract;
using TaskBudgets.Governance.Policies;
using TaskBudgets.Governance.Storage;
using TaskBudgets.Governance.Telemetry;
using TaskBudgets.Governance.UsageHistory;
using TaskBudgets.Policies;
using TaskBudgets.V1;
using TierRule = TaskBudgets.Governance.Budgeting.TierRule;

namespace TaskBudgets.Governance.Admin;

/// <summary>
/// SimulatePolicy: replays settled calls under a candidate policy document through the pure
/// <see cref="BudgetDecision.Decide"/> and compares actual with projected, per tier and task type.
/// It reads settlements and usage counters, and writes nothing.
/// </summary>
public sealed class PolicyReplay(IDbContextFactory<GovernanceDbContext> contexts, PolicyCatalog catalog, UsageCounters counters, CalibrationBook calibration, TimeProvider time)
{
    /// <summary>The time range replayed when the request names none.</summary>
    public static readonly TimeSpan DefaultSince = TimeSpan.FromDays(7);

    /// <summary>The longest candidate policy document taken (the request size limit applies too).</summary>
    public const int MaxPolicyLength = 1 << 20;

    public async Task<SimulatePolicyResponse> SimulateAsync(SimulatePolicyRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var (start, end) = TimeRange(request);
        var candidate = Candidate(request.PolicyYaml);
        if (request.OrgId.Length > 0 && !catalog.Current.Orgs.ContainsKey(request.OrgId) && !candidate.Orgs.ContainsKey(request.OrgId))
        {
            throw GovernanceException.OrgNotFound(request.OrgId);
        }

        var groups = new SortedDictionary<(string Tier, string TaskType), Group>();
        Group GroupOf(string tier, string taskType)
        {
            if (!groups.TryGetValue((tier, taskType), out var group))
            {
                groups[(tier, taskType)] = group = new Group();
            }

            return group;
        }

        // One calibration for the whole replay: the one grants use now.
        var calibrated = calibration.Current;
        var unmatched = 0L;
        var from = start.ToUnixTimeMilliseconds();
        var to = end.ToUnixTimeMilliseconds();
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var rows = db.Settlements.AsNoTracking()
            .Where(s => s.SettledAtMs >= from && s.SettledAtMs <= to && s.Kind == (int)SettlementKind.Reported);
        rows = request.OrgId.Length > 0 ? rows.Where(s => s.OrgId == request.OrgId) : rows;
        await foreach (var row in rows.AsAsyncEnumerable().WithCancellation(cancellationToken))
        {
            var (tier, rule) = RuleFor(candidate, row);
            if (rule is null)
            {
                unmatched++;
                continue;
            }

            var recommendation = rule.Adaptive ? calibrated.Recommend(tier, rule.TaskType, rule, row.OrgId) : default;
            GroupOf(row.Tier, row.TaskType).Add(row, rule, ModelFor(candidate, row.Model), recommendation);
        }

        // This replica's denial counts are in at once; other replicas' within Usage:FlushInterval.
        await counters.FlushAsync(cancellationToken);
        await AddActualDenialsAsync(db, request.OrgId, start, end, GroupOf, cancellationToken);

        var response = new SimulatePolicyResponse
        {
            StartTime = Timestamp.FromDateTimeOffset(start),
            EndTime = Timestamp.FromDateTimeOffset(end),
            UnmatchedCalls = unmatched,
            Total = new PolicyReplayGroup { Actual = new ReplayOutcome(), Projected = new ReplayOutcome() },
        };
        var actualTotal = new ReplaySums();
        var projectedTotal = new ReplaySums();
        var adaptiveRules = false;
        foreach (var ((tier, taskType), group) in groups)
        {
            actualTotal.Add(group.Actual);
            projectedTotal.Add(group.Projected);
            adaptiveRules |= group.Adaptive;
            response.Groups.Add(new PolicyReplayGroup
            {
                Tier = tier,
                TaskType = taskType,
                Calls = group.Calls,
                Actual = Outcome(group.Actual),
                Projected = Outcome(group.Projected),
                CandidateRule = group.CandidateRule ?? string.Empty,
                Adaptive = group.Adaptive,
                CalibratedCalls = group.CalibratedCalls,
            });
        }

        response.Total.Calls = groups.Values.Sum(g => g.Calls);
        response.Total.CalibratedCalls = groups.Values.Sum(g => g.CalibratedCalls);
        response.Total.Actual = Outcome(actualTotal);
        response.Total.Projected = Outcome(projectedTotal);
        response.Notes.Add("Calls are replayed as first attempts without hints (a rule's default budget, or an adaptive rule's calibrated base): complexity hints, attempts, phase and priority are not stored with settlements.");
        response.Notes.Add("Quotas are not replayed: projected denials are only those the candidate's rules make by themselves.");
        response.Notes.Add("Censoring: a truncated call whose candidate budget exceeds its recorded grant is counted in censored_truncations (outcome unknown), not in truncations.");
        if (adaptiveRules)
        {
            response.Notes.Add(AdaptiveNote);
        }

        return response;
    }

    /// <summary>How adaptive candidate rules are replayed.</summary>
    internal const string AdaptiveNote =
        "Adaptive rules take the budget the calibration recommends now for their tier and task type (learnt under the policy in force, at its tiers' target truncation rates; "
        + "a candidate's different target_truncation_rate is not re-allocated), or their default where it has fewer than min_samples calls (see calibrated_calls).";

    private (DateTimeOffset Start, DateTimeOffset End) TimeRange(SimulatePolicyRequest request)
    {
        var end = ProtoTimes.Read(request.EndTime, "end_time") ?? time.GetUtcNow();
        var start = ProtoTimes.Read(request.StartTime, "start_time");
        if (start is null)
        {
            var since = ProtoTimes.Read(request.Since, "since") ?? DefaultSince;
            if (since <= TimeSpan.Zero)
            {
                throw GovernanceException.Invalid([new FieldProblem("since", "must be positive")]);
            }

            // A span reaching before 0001-01-01 would not be an instant.
            if (since > end - DateTimeOffset.MinValue)
            {
                throw GovernanceException.Invalid([new FieldProblem("since", "must not reach before 0001-01-01")]);
            }

            start = end - since;
        }

        return end < start
            ? throw GovernanceException.Invalid([new FieldProblem("end_time", "must not be before start_time")])
            : (start.Value, end);
    }

    /// <summary>The candidate document, checked like the policy file; each problem names its field under policy_yaml.</summary>
    private static PolicySnapshot Candidate(string yaml)
    {
        if (string.IsNullOrWhiteSpace(yaml))
        {
            throw GovernanceException.Invalid([new FieldProblem("policy_yaml", "is required: the candidate policy document (YAML)")]);
        }

        if (yaml.Length > MaxPolicyLength)
        {
            throw GovernanceException.Invalid([new FieldProblem("policy_yaml", $"must be at most {MaxPolicyLength} characters")]);
        }

        try
        {
            return PolicyDocument.Parse(yaml).ToSnapshot(0);
        }
        catch (PolicyException e)
        {
            throw GovernanceException.Invalid(e.Errors.Select(Problem).ToList());
        }
    }

    /// <summary>"tiers[0].name: duplicate tier" is field "policy_yaml.tiers[0].name"; a YAML syntax error names the document.</summary>
    private static FieldProblem Problem(string error)
    {
        var colon = error.IndexOf(": ", StringComparison.Ordinal);
        return colon > 0 && PolicyPath(error.AsSpan(0, colon))
            ? new FieldProblem("policy_yaml." + error[..colon], error[(colon + 2)..])
            : new FieldProblem("policy_yaml", error);
    }

    private static bool PolicyPath(ReadOnlySpan<char> text) =>
        text.StartsWith("models", StringComparison.Ordinal) || text.StartsWith("tiers", StringComparison.Ordinal) || text.StartsWith("orgs", StringComparison.Ordinal);

    /// <summary>The candidate's rule for a recorded call: its org's tier in the candidate, else the tier it was served under.</summary>
    private static (string Tier, TierRule? Rule) RuleFor(PolicySnapshot candidate, Settlement row)
    {
        var tier = candidate.Orgs.TryGetValue(row.OrgId, out var org) ? org.Tier : row.Tier;
        return (tier, candidate.Tiers.GetValueOrDefault(tier)?.RuleFor(row.TaskType));
    }

    /// <summary>The candidate's model, else the one in force, else a model with no thinking limits.</summary>
    private ModelSpec ModelFor(PolicySnapshot candidate, string name) =>
        candidate.Models.GetValueOrDefault(name)
        ?? catalog.Current.Models.GetValueOrDefault(name)
        ?? new ModelSpec { Name = name, Family = Budgeting.ModelFamily.Anthropic, Thinking = Budgeting.ThinkingMode.Effort };

    private static async Task AddActualDenialsAsync(GovernanceDbContext db, string orgId, DateTimeOffset start, DateTimeOffset end, Func<string, string, Group> groupOf, CancellationToken cancellationToken)
    {
        // Counters are per hour: the hours that overlap the range count whole.
        var from = start.ToUnixTimeSeconds() - (start.ToUnixTimeSeconds() % 3600);
        var to = end.ToUnixTimeSeconds();
        var counters = db.UsageCounters.AsNoTracking().Where(c => c.HourStart >= from && c.HourStart <= to && c.Denials > 0);
        counters = orgId.Length > 0 ? counters.Where(c => c.OrgId == orgId) : counters;
        var denials = await counters
            .GroupBy(c => new { c.Tier, c.TaskType })
            .Select(g => new { g.Key.Tier, g.Key.TaskType, Denials = g.Sum(c => c.Denials) })
            .ToListAsync(cancellationToken);
        foreach (var d in denials)
        {
            groupOf(d.Tier, d.TaskType).Actual.AddDenials(d.Denials);
        }
    }

    private static ReplayOutcome Outcome(ReplaySums sums) => new()
    {
        ReservedReasoningTokens = sums.ReservedReasoning,
        ReservedOutputTokens = sums.ReservedOutput,
        UsedReasoningTokens = sums.UsedReasoning,
        UsedOutputTokens = sums.UsedOutput,
        Truncations = sums.Truncations,
        CensoredTruncations = sums.CensoredTruncations,
        TruncationRate = sums.TruncationRate,
        Denials = sums.Denials,
        ReservationEfficiency = sums.ReservationEfficiency,
        ReservedReasoningTokensPerCall = sums.ReservedPerCall,
    };

    /// <summary>The calls of one tier and task type, actual and projected.</summary>
    private sealed class Group
    {
        public long Calls { get; private set; }

        public ReplaySums Actual { get; } = new();

        public ReplaySums Projected { get; } = new();

        /// <summary>The candidate rule's task type; null before the first call, empty when calls met different rules.</summary>
        public string? CandidateRule { get; private set; }

        public bool Adaptive { get; private set; }

        /// <summary>Calls whose projected base budget came from the calibration (adaptive rules with enough samples).</summary>
        public long CalibratedCalls { get; private set; }

        public void Add(Settlement row, TierRule rule, ModelSpec model, in CalibratedBudget calibration)
        {
            Calls++;
            var answer = Math.Max(0, row.OutputTokens - row.ReasoningTokens);
            var recorded = new RecordedCall(row.GrantedReasoningTokens, row.GrantedOutputTokens, row.ReasoningTokens, answer, row.Truncated);
            Actual.AddCall(row.GrantedReasoningTokens, row.GrantedOutputTokens, row.ReasoningTokens, row.OutputTokens, row.Truncated, censored: false);
            CandidateRule = CandidateRule is null || CandidateRule == rule.TaskType ? rule.TaskType : string.Empty;
            Adaptive |= rule.Adaptive;

            // What the caller would have been asked about: only the input size is on record.
            var features = new CallFeatures(null, row.InputTokens + row.CachedInputTokens + row.CacheWriteInputTokens, 1, false, CallPhase.Standard, CallPriority.Normal);
            var decision = BudgetDecision.Decide(rule, features, model, [], null, calibration);
            CalibratedCalls += (decision.Reasons & BudgetReasons.Adaptive) != 0 ? 1 : 0;
            if (decision.Denied)
            {
                Projected.AddDenials(1);
                return;
            }

            var projected = ProjectedCall.Under(recorded, decision.ReasoningTokens);
            Projected.AddCall(decision.ReasoningTokens, decision.MaxOutputTokens, projected.UsedReasoning, Math.Min(projected.UsedOutput, decision.MaxOutputTokens), projected.Truncated, projected.Censored);
        }
    }
}
