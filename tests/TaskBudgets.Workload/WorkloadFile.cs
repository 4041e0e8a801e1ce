using System.Globalization;
using YamlDotNet.Core;
using YamlDotNet.Serialization;
using YamlDotNet.Serialization.NamingConventions;

namespace TaskBudgets.Workload;

/// <summary>
/// A synthetic workload (workloads/*.yaml): task types, how often each comes, and how many
/// reasoning tokens a call of each really needs, as a mixture of heavy-tailed distributions.
/// </summary>
internal sealed class WorkloadFile
{
    /// <summary>The model every call names (a policy model with no thinking limits is generated for it).</summary>
    public string Model { get; set; } = "workload-model";

    /// <summary>The truncation rate both phases aim at: the fixed budget is chosen for it; the adaptive tier is given it.</summary>
    public double TargetTruncationRate { get; set; } = 0.02;

    /// <summary>Output tokens of a call's visible answer, beyond its reasoning.</summary>
    public long AnswerTokens { get; set; } = 200;

    public List<TaskTypeEntry> TaskTypes { get; set; } = [];

    /// <summary>What a call's phase and estimated input size do to its need (used with --call-features); null for none.</summary>
    public CallFeaturesEntry? CallFeatures { get; set; }

    internal sealed class TaskTypeEntry
    {
        public string Name { get; set; } = string.Empty;

        /// <summary>Relative frequency of this task type among the calls.</summary>
        public double Share { get; set; } = 1;

        /// <summary>The reasoning-token need: a mixture of the components, each with its weight.</summary>
        public List<NeedComponent> Need { get; set; } = [];
    }

    internal sealed class NeedComponent
    {
        public double Weight { get; set; } = 1;

        public LogNormalEntry? Lognormal { get; set; }

        public ParetoEntry? Pareto { get; set; }
    }

    /// <summary>exp(N(ln median, sigma^2)).</summary>
    internal sealed class LogNormalEntry
    {
        public double Median { get; set; }

        public double Sigma { get; set; }
    }

    /// <summary>scale * U^(-1/alpha): at least scale, with a power-law tail.</summary>
    internal sealed class ParetoEntry
    {
        public double Scale { get; set; }

        public double Alpha { get; set; }
    }

    /// <summary>
    /// The features every call carries with --call-features, and their known effect on its need:
    /// need = base need x its phase's factor x its input factor.
    /// </summary>
    internal sealed class CallFeaturesEntry
    {
        /// <summary>The input size past which a call needs more: where the service's long-input bands start.</summary>
        public const long LongInput = 16_384;

        /// <summary>Preliminary and deep calls: their shares of the calls and need factors. The rest are standard, factor 1.</summary>
        public List<PhaseEntry> Phases { get; set; } = [];

        /// <summary>Every call's estimated input size; null: every call says 500 tokens, as without --call-features.</summary>
        public InputTokensEntry? InputTokens { get; set; }

        /// <summary>The need of a call with an input past <see cref="LongInput"/> tokens is multiplied by (input / that) ^ elasticity.</summary>
        public double InputElasticity { get; set; }

        /// <summary>What a call's input of <paramref name="inputTokens"/> multiplies its need by.</summary>
        public double InputFactor(long inputTokens) =>
            inputTokens > LongInput ? Math.Pow((double)inputTokens / LongInput, InputElasticity) : 1.0;
    }

    internal sealed class PhaseEntry
    {
        /// <summary>preliminary or deep.</summary>
        public string Phase { get; set; } = string.Empty;

        public double Share { get; set; }

        public double NeedFactor { get; set; } = 1;
    }

    /// <summary>A lognormal draw, rounded and clamped to min..max.</summary>
    internal sealed class InputTokensEntry
    {
        public LogNormalEntry? Lognormal { get; set; }

        public long Min { get; set; } = 1;

        public long Max { get; set; } = 10_000_000;
    }

    public static WorkloadFile Load(string path)
    {
        var deserializer = new DeserializerBuilder().WithNamingConvention(UnderscoredNamingConvention.Instance).Build();
        WorkloadFile file;
        try
        {
            file = deserializer.Deserialize<WorkloadFile?>(File.ReadAllText(path)) ?? new WorkloadFile();
        }
        catch (YamlException e)
        {
            throw new InvalidDataException($"{path}: line {e.Start.Line}: {e.Message}", e);
        }

        var problems = file.Problems().ToList();
        return problems.Count == 0 ? file : throw new InvalidDataException($"{path}: " + string.Join("; ", problems));
    }

    private IEnumerable<string> Problems()
    {
        if (TaskTypes.Count == 0)
        {
            yield return "task_types: at least one";
        }

        if (TargetTruncationRate is <= 0 or >= 1)
        {
            yield return "target_truncation_rate: must be within 0..1 (exclusive)";
        }

        var names = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < TaskTypes.Count; i++)
        {
            var t = TaskTypes[i];
            var at = string.Create(CultureInfo.InvariantCulture, $"task_types[{i}]");
            if (t.Name.Length == 0 || t.Name == "*" || !names.Add(t.Name))
            {
                yield return $"{at}.name: a unique task type name";
            }

            if (t.Share <= 0)
            {
                yield return $"{at}.share: must be positive";
            }

            if (t.Need.Count == 0)
            {
                yield return $"{at}.need: at least one component";
            }

            for (var j = 0; j < t.Need.Count; j++)
            {
                var c = t.Need[j];
                var ok = c.Weight > 0 && ((c.Lognormal is { Median: > 0, Sigma: >= 0 } && c.Pareto is null) || (c.Pareto is { Scale: > 0, Alpha: > 0 } && c.Lognormal is null));
                if (!ok)
                {
                    yield return $"{at}.need[{j}]: a positive weight and one of lognormal {{median > 0, sigma >= 0}} or pareto {{scale > 0, alpha > 0}}";
                }
            }
        }

        if (CallFeatures is { } features)
        {
            foreach (var problem in CallFeaturesProblems(features))
            {
                yield return problem;
            }
        }
    }

    private static IEnumerable<string> CallFeaturesProblems(CallFeaturesEntry features)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < features.Phases.Count; i++)
        {
            var p = features.Phases[i];
            var at = string.Create(CultureInfo.InvariantCulture, $"call_features.phases[{i}]");
            if (p.Phase is not ("preliminary" or "deep") || !seen.Add(p.Phase))
            {
                yield return $"{at}.phase: preliminary or deep, each at most once (the rest of the calls are standard, factor 1)";
            }

            if (p.Share is <= 0 or > 1)
            {
                yield return $"{at}.share: within 0..1 (0 exclusive)";
            }

            if (p.NeedFactor is <= 0 or > 100)
            {
                yield return $"{at}.need_factor: within 0..100 (0 exclusive)";
            }
        }

        if (features.Phases.Sum(p => p.Share) > 1)
        {
            yield return "call_features.phases: the shares add up to more than 1";
        }

        if (features.InputTokens is { } input
            && (input.Lognormal is not { Median: > 0, Sigma: >= 0 } || input.Min < 1 || input.Max < input.Min || input.Max > 10_000_000))
        {
            yield return "call_features.input_tokens: lognormal {median > 0, sigma >= 0} and 1 <= min <= max <= 10,000,000";
        }

        if (features.InputElasticity is < 0 or > 2)
        {
            yield return "call_features.input_elasticity: within 0..2";
        }

        if (features.Phases.Count == 0 && features.InputTokens is null)
        {
            yield return "call_features: phases or input_tokens, or both";
        }
    }
}
