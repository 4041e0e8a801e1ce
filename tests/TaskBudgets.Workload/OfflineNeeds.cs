using System.Globalization;
using TaskBudgets.Governance.Budgeting;
using TaskBudgets.Governance.Budgeting.Calibration;
using TaskBudgets.V1;

namespace TaskBudgets.Workload;

/// <summary>
/// A large offline sample of the workload's needs, sorted: the best single fixed budget and each task
/// type's budget-versus-truncation curve are read from it, without a server.
/// </summary>
internal sealed class OfflineNeeds
{
    /// <summary>The phases a call with call features has, in the order of <see cref="FeatureGroup"/>.</summary>
    public static readonly Phase[] FeaturePhases = [Phase.Standard, Phase.Preliminary, Phase.Deep];

    private readonly long[] pooled;
    private readonly long[][] byType;
    private readonly long[][][]? byTypeAndBand;
    private readonly long[][]? byFeatures;

    private OfflineNeeds(long[] pooled, long[][] byType, long[][][]? byTypeAndBand, long[][]? byFeatures)
    {
        this.pooled = pooled;
        this.byType = byType;
        this.byTypeAndBand = byTypeAndBand;
        this.byFeatures = byFeatures;
    }

    /// <summary>The sampled calls carry complexity hints (grouped in the service's hint bands).</summary>
    public bool Hinted => byTypeAndBand is not null;

    /// <summary>The sampled calls carry a phase and an estimated input size (grouped by task type, phase and the service's input bands).</summary>
    public bool HasCallFeatures => byFeatures is not null;

    /// <summary>Draws <paramref name="calls"/> calls (their own seed, so the sample is not the calls sent).</summary>
    /// <param name="shift">When given, the sample is of the shifted workload (every call of its type shifted).</param>
    /// <param name="callFeatures">The calls carry the workload's call features (and need what those make of their base need).</param>
    public static OfflineNeeds Sample(WorkloadFile workload, int seed, int calls, double? hintCorrelation = null, NeedShift? shift = null, bool callFeatures = false)
    {
        var plan = new NeedSampler(workload, seed, hintCorrelation, callFeatures).Plan(calls);
        plan = shift is null ? plan : shift.Apply(workload, plan, 0);
        var pooled = plan.Select(c => c.Need).Order().ToArray();
        var types = Enumerable.Range(0, workload.TaskTypes.Count);
        var byType = types.Select(t => plan.Where(c => c.TaskType == t).Select(c => c.Need).Order().ToArray()).ToArray();
        var byBand = hintCorrelation is null
            ? null
            : types.Select(t => Enumerable.Range(0, CalibrationStats.HintBands)
                    .Select(b => plan.Where(c => c.TaskType == t && CalibrationStats.Band(c.Complexity!.Value) == b).Select(c => c.Need).Order().ToArray())
                    .ToArray())
                .ToArray();
        long[][]? byFeatures = null;
        if (callFeatures)
        {
            var groups = Enumerable.Range(0, workload.TaskTypes.Count * FeaturePhases.Length * CalibrationStats.InputBands).Select(_ => new List<long>()).ToArray();
            foreach (var c in plan)
            {
                groups[FeatureGroup(c.TaskType, c.Phase, CalibrationStats.InputBand(c.InputTokens))].Add(c.Need);
            }

            byFeatures = groups.Select(g => g.Order().ToArray()).ToArray();
        }

        return new OfflineNeeds(pooled, byType, byBand, byFeatures);
    }

    /// <summary>The index of the group of calls of task type <paramref name="type"/>, <paramref name="phase"/> and input band <paramref name="inputBand"/>.</summary>
    public static int FeatureGroup(int type, Phase phase, int inputBand) =>
        (((type * FeaturePhases.Length) + Math.Max(0, Array.IndexOf(FeaturePhases, phase))) * CalibrationStats.InputBands) + inputBand;

    /// <summary>
    /// The smallest single budget whose truncation rate over the whole workload is at most
    /// <paramref name="target"/>: with k = floor(target * n) calls allowed to need more, the
    /// (n - k)-th smallest need.
    /// </summary>
    public long BestFixedBudget(double target)
    {
        var allowed = (int)Math.Floor(target * pooled.Length);
        return pooled[Math.Max(0, pooled.Length - allowed - 1)];
    }

    /// <summary>The share of calls of task type <paramref name="type"/> (or all, for -1) that need more than <paramref name="budget"/>.</summary>
    public double TruncationRate(int type, long budget)
    {
        var needs = type < 0 ? pooled : byType[type];
        if (needs.Length == 0)
        {
            return 0;
        }

        // The first index whose need exceeds the budget.
        var index = Array.BinarySearch(needs, budget + 1);
        index = index < 0 ? ~index : FirstOf(needs, index);
        return (double)(needs.Length - index) / needs.Length;
    }

    /// <summary>The smallest budget that keeps task type <paramref name="type"/> at or under <paramref name="target"/>: what a per-type oracle would grant.</summary>
    public long TypeBudget(int type, double target)
    {
        var needs = byType[type];
        var allowed = (int)Math.Floor(target * needs.Length);
        return needs.Length == 0 ? 0 : needs[Math.Max(0, needs.Length - allowed - 1)];
    }

    /// <summary>
    /// A reference no policy can beat without knowing each call's need: every task type at its own
    /// smallest budget for the target (known in hindsight). Its reservation efficiency over all calls.
    /// </summary>
    public double OracleEfficiency(double target)
    {
        double used = 0, reserved = 0;
        for (var t = 0; t < byType.Length; t++)
        {
            var budget = TypeBudget(t, target);
            used += byType[t].Sum(need => (double)Math.Min(need, budget));
            reserved += (double)budget * byType[t].Length;
        }

        return reserved == 0 ? 0 : used / reserved;
    }

    /// <summary>
    /// The best allocation there is for one budget per task type, with full knowledge of the needs:
    /// the least reserved tokens per call with at most <paramref name="target"/> of all calls
    /// truncated (the tier's target shared out across task types, as the service's allocation does
    /// from its estimates). Its budgets, efficiency and truncation rate over the sampled calls.
    /// </summary>
    public (long[] Budgets, double Efficiency, double TruncationRate) OptimalAllocation(double target) => Optimal(byType, target);

    /// <summary>
    /// As <see cref="OptimalAllocation"/>, with one budget per task type and hint band (the
    /// service's <see cref="CalibrationStats.HintBands"/> bands): the best a policy that knows the
    /// distributions can do with the hint. Null without hints.
    /// </summary>
    public (long[] Budgets, double Efficiency, double TruncationRate)? OptimalAllocationByHint(double target) =>
        byTypeAndBand is null ? null : Optimal([.. byTypeAndBand.SelectMany(bands => bands)], target);

    /// <summary>
    /// As <see cref="OptimalAllocation"/>, with one budget per task type, phase and input band (the
    /// service's <see cref="CalibrationStats.InputBands"/> bands): the best a policy that knows the
    /// distributions can do with the phase and the estimated input size. Its budgets are indexed by
    /// <see cref="FeatureGroup"/>. Null without call features.
    /// </summary>
    public (long[] Budgets, double Efficiency, double TruncationRate)? OptimalAllocationByFeatures(double target) =>
        byFeatures is null ? null : Optimal(byFeatures, target);

    /// <summary>
    /// The sampled calls of each phase (in <see cref="FeaturePhases"/> order) under the budgets
    /// <paramref name="budget"/> gives a task type, phase and input band: their count, efficiency
    /// and truncation rate. Empty without call features.
    /// </summary>
    public GroupOutcome[] ByPhase(Func<int, Phase, int, long> budget) =>
        Breakdown(budget, FeaturePhases.Length, (_, phase, _) => Array.IndexOf(FeaturePhases, phase), p => PhaseName(FeaturePhases[p]));

    /// <summary>As <see cref="ByPhase"/>, per input band (0..<see cref="CalibrationStats.InputBands"/> - 1).</summary>
    public GroupOutcome[] ByInputBand(Func<int, Phase, int, long> budget) =>
        Breakdown(budget, CalibrationStats.InputBands, (_, _, band) => band, InputBandName);

    /// <summary>standard, preliminary or deep.</summary>
    public static string PhaseName(Phase phase) => phase switch
    {
        Phase.Preliminary => "preliminary",
        Phase.Deep => "deep",
        _ => "standard",
    };

    /// <summary>The input sizes of band <paramref name="band"/> (<see cref="CalibrationStats.InputBand"/>).</summary>
    public static string InputBandName(int band)
    {
        var edge = BudgetDecision.LongInputThreshold;
        for (var b = 0; b < band - 1; b++)
        {
            edge *= 2;
        }

        return band == 0 ? string.Create(CultureInfo.InvariantCulture, $"input <= {edge:N0}")
            : band < CalibrationStats.InputBands - 1 ? string.Create(CultureInfo.InvariantCulture, $"input {edge + 1:N0}..{edge * 2:N0}")
            : string.Create(CultureInfo.InvariantCulture, $"input > {edge:N0}");
    }

    private GroupOutcome[] Breakdown(Func<int, Phase, int, long> budget, int count, Func<int, Phase, int, int> keyOf, Func<int, string> name)
    {
        if (byFeatures is null)
        {
            return [];
        }

        var (calls, used, reserved, truncated) = (new long[count], new double[count], new double[count], new long[count]);
        for (var t = 0; t < byType.Length; t++)
        {
            foreach (var phase in FeaturePhases)
            {
                for (var band = 0; band < CalibrationStats.InputBands; band++)
                {
                    var (needs, b, k) = (byFeatures[FeatureGroup(t, phase, band)], budget(t, phase, band), keyOf(t, phase, band));
                    calls[k] += needs.Length;
                    used[k] += needs.Sum(need => (double)Math.Min(need, b));
                    reserved[k] += (double)b * needs.Length;
                    truncated[k] += needs.Count(need => need > b);
                }
            }
        }

        return [.. Enumerable.Range(0, count).Select(k => new GroupOutcome(name(k), calls[k], reserved[k] == 0 ? 0 : used[k] / reserved[k], calls[k] == 0 ? 0 : (double)truncated[k] / calls[k]))];
    }

    private (long[] Budgets, double Efficiency, double TruncationRate) Optimal(long[][] groups, double target)
    {
        var items = new List<AllocationItem>();
        for (var t = 0; t < groups.Length; t++)
        {
            var needs = groups[t];
            var candidates = new List<(long Budget, double Survival)> { (0, needs.Length == 0 ? 0 : 1.0) };
            for (var i = 0; i < needs.Length; i++)
            {
                if (i + 1 == needs.Length || needs[i + 1] != needs[i])
                {
                    candidates.Add((needs[i], (double)(needs.Length - i - 1) / needs.Length));
                }
            }

            items.Add(new AllocationItem(pooled.Length == 0 ? 0 : (double)needs.Length / pooled.Length, candidates));
        }

        var budgets = TierAllocation.Allocate(items, 0, target);
        double used = 0, reserved = 0, truncated = 0;
        for (var t = 0; t < groups.Length; t++)
        {
            used += groups[t].Sum(need => (double)Math.Min(need, budgets[t]));
            reserved += (double)budgets[t] * groups[t].Length;
            truncated += groups[t].Count(need => need > budgets[t]);
        }

        return (budgets, reserved == 0 ? 0 : used / reserved, pooled.Length == 0 ? 0 : truncated / pooled.Length);
    }

    /// <summary>
    /// The best first budgets and escalation ladders there are with full knowledge of the needs:
    /// the service's own method (the cheapest ladder after each first budget, then the tier's
    /// target on first attempts shared out across task types by budget plus expected retries) on
    /// the sampled needs (binned as the service bins them), measured on those needs with up to
    /// <paramref name="maxAttempts"/> attempts per task. Per task type, then the total.
    /// </summary>
    public LadderOutcome[] OptimalLadders(double target, long min, long max, int maxAttempts)
    {
        var items = new List<AllocationItem>();
        var ladders = new List<EscalationLadder>();
        var candidates = new List<List<(long Budget, double Survival)>>();
        foreach (var needs in byType)
        {
            var sketch = new UsageSketch();
            foreach (var need in needs)
            {
                sketch.AddCompleted(need, 1.0);
            }

            var points = new SurvivalCurve(sketch, max).Candidates(min, max);
            var ladder = EscalationLadder.Build(points, target);
            candidates.Add(points);
            ladders.Add(ladder);
            items.Add(new AllocationItem(pooled.Length == 0 ? 0 : (double)needs.Length / pooled.Length, points, ladder.Costs));
        }

        var firsts = TierAllocation.Allocate(items, 0, target);
        var outcomes = new List<LadderOutcome>();
        long tasks = 0, truncated = 0, completed = 0;
        double reserved = 0;
        for (var t = 0; t < byType.Length; t++)
        {
            long[] budgets = [firsts[t], .. ladders[t].StepsAfter(ladders[t].IndexOf(firsts[t]))];
            long typeTruncated = 0, typeCompleted = 0;
            double typeReserved = 0;
            foreach (var need in byType[t])
            {
                var attempt = 0;
                typeReserved += budgets[0];
                while (need > budgets[Math.Min(attempt, budgets.Length - 1)] && attempt + 1 < maxAttempts)
                {
                    attempt++;
                    typeReserved += budgets[Math.Min(attempt, budgets.Length - 1)];
                }

                typeTruncated += need > budgets[0] ? 1 : 0;
                typeCompleted += need <= budgets[Math.Min(attempt, budgets.Length - 1)] ? 1 : 0;
            }

            outcomes.Add(new LadderOutcome(budgets, byType[t].Length, typeTruncated, typeCompleted, typeReserved));
            (tasks, truncated, completed, reserved) = (tasks + byType[t].Length, truncated + typeTruncated, completed + typeCompleted, reserved + typeReserved);
        }

        outcomes.Add(new LadderOutcome([], tasks, truncated, completed, reserved));
        return [.. outcomes];
    }

    /// <summary>The reservation efficiency of one budget for every call.</summary>
    public double FixedEfficiency(long budget) =>
        budget <= 0 || pooled.Length == 0 ? 0 : pooled.Sum(need => (double)Math.Min(need, budget)) / ((double)budget * pooled.Length);

    /// <summary>The <paramref name="q"/> quantile (0..1) of task type <paramref name="type"/>'s needs.</summary>
    public long Quantile(int type, double q) => byType[type].Length == 0 ? 0 : byType[type][Math.Min(byType[type].Length - 1, (int)(q * byType[type].Length))];

    /// <summary>The share of the sampled calls that are of task type <paramref name="type"/>.</summary>
    public double Share(int type) => pooled.Length == 0 ? 0 : (double)byType[type].Length / pooled.Length;

    public long Median(int type) => byType[type].Length == 0 ? 0 : byType[type][byType[type].Length / 2];

    public long Min(int type) => byType[type].Length == 0 ? 1 : byType[type][0];

    public long Max(int type) => byType[type].Length == 0 ? 1 : byType[type][^1];

    private static int FirstOf(long[] sorted, int index)
    {
        while (index > 0 && sorted[index - 1] == sorted[index])
        {
            index--;
        }

        return index;
    }
}

/// <summary>Sampled calls of one phase or input band under some budgets: how many, their efficiency (used / reserved) and truncation rate.</summary>
internal sealed record GroupOutcome(string Name, long Calls, double Efficiency, double TruncationRate);

/// <summary>A ladder's result over sampled tasks: its budgets (first, then attempts 2..4), first-attempt truncations, completions and reserved tokens.</summary>
internal sealed record LadderOutcome(long[] Budgets, long Tasks, long Truncated, long Completed, double Reserved)
{
    public double TruncationRate => Tasks == 0 ? 0 : (double)Truncated / Tasks;

    public double ReservedPerCompletedTask => Completed == 0 ? 0 : Reserved / Completed;
}
