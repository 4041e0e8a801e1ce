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
    }
}
