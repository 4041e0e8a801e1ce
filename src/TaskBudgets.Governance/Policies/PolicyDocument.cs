using System.Collections.Frozen;
using System.Globalization;
using System.Text.RegularExpressions;
using TaskBudgets.Governance.Budgeting;
using TaskBudgets.Governance.Quotas;
using YamlDotNet.Core;
using YamlDotNet.Serialization;
using YamlDotNet.Serialization.NamingConventions;

namespace TaskBudgets.Governance.Policies;

/// <summary>
/// The declarative policy file (YAML): models with prices, tiers with rules, orgs with quotas.
/// The server loads it at start; the format is documented in the README.
/// </summary>
public sealed partial class PolicyDocument
{
    /// <summary>The longest display name of an org.</summary>
    public const int MaxDisplayName = 256;

    public List<ModelEntry> Models { get; set; } = [];

    public List<TierEntry> Tiers { get; set; } = [];

    public List<OrgEntry> Orgs { get; set; } = [];

    public sealed class ModelEntry
    {
        public string Name { get; set; } = string.Empty;

        public string Family { get; set; } = string.Empty;

        /// <summary>"budget" (a thinking budget in tokens) or "effort" (an effort level only).</summary>
        public string Thinking { get; set; } = string.Empty;

        public long? MinThinkingTokens { get; set; }

        public long MaxThinkingTokens { get; set; }

        public decimal InputUsdPerMtok { get; set; }

        public decimal? CachedInputUsdPerMtok { get; set; }

        public decimal? CacheWriteUsdPerMtok { get; set; }

        public decimal OutputUsdPerMtok { get; set; }
    }

    public sealed class TierEntry
    {
        public string Name { get; set; } = string.Empty;

        /// <summary>Share of calls (0 &lt; rate &lt; 1) allowed to stop on MAX_TOKENS; adaptive rules aim at it.</summary>
        public double TargetTruncationRate { get; set; } = TierPolicy.DefaultTargetTruncationRate;

        public List<RuleEntry> Rules { get; set; } = [];
    }

    public sealed class RuleEntry
    {
        public string TaskType { get; set; } = string.Empty;

        public long MinReasoningTokens { get; set; }

        public long DefaultReasoningTokens { get; set; }

        public long MaxReasoningTokens { get; set; }

        public long AnswerTokens { get; set; } = 1024;

        public long MaxOutputTokens { get; set; }

        public string Effort { get; set; } = "medium";

        public double EscalationFactor { get; set; } = 2.0;

        public double PreliminaryFraction { get; set; } = 0.25;

        public double SoftLimitThreshold { get; set; } = 0.8;

        public double SoftLimitFloor { get; set; } = 0.25;

        public long TaskBudgetTokens { get; set; }

        /// <summary>Take the base budget from the calibration once it has <see cref="MinSamples"/> calls.</summary>
        public bool Adaptive { get; set; }

        public int MinSamples { get; set; } = TierRule.DefaultMinSamples;
    }

    public sealed class OrgEntry
    {
        public string Id { get; set; } = string.Empty;

        public string DisplayName { get; set; } = string.Empty;

        public string Tier { get; set; } = string.Empty;

        /// <summary>The org's projects (names as in GetBudget's project_id), for reference and reports.</summary>
        public List<string> Projects { get; set; } = [];

        public List<QuotaEntry> Quotas { get; set; } = [];
    }

    public sealed class QuotaEntry
    {
        public string? Id { get; set; }

        public string Scope { get; set; } = "org";

        /// <summary>For project or principal scope: the one it is for; empty for each one separately.</summary>
        public string Subject { get; set; } = string.Empty;

        public string Metric { get; set; } = string.Empty;

        public string Window { get; set; } = string.Empty;

        public long Limit { get; set; }
    }

    /// <summary>Reads a policy file. Unknown fields and malformed YAML are errors that name the line.</summary>
    public static PolicyDocument Parse(string yaml)
    {
        var deserializer = new DeserializerBuilder()
            .WithNamingConvention(UnderscoredNamingConvention.Instance)
            .WithEnforceRequiredMembers()
            .Build();
        try
        {
            return deserializer.Deserialize<PolicyDocument?>(yaml) ?? new PolicyDocument();
        }
        catch (YamlException e)
        {
            var inner = e.InnerException is null ? string.Empty : $" ({e.InnerException.Message})";
            throw new PolicyException([$"line {e.Start.Line}, column {e.Start.Column}: {e.Message}{inner}"]);
        }
    }

    public static PolicyDocument Load(string path) => Parse(File.ReadAllText(path));

    /// <summary>Checks the document and turns it into the domain's policy; every problem names its field.</summary>
    /// <exception cref="PolicyException">The document has at least one problem.</exception>
    public PolicySnapshot ToSnapshot(long version)
    {
        var errors = new List<string>();
        var models = new List<ModelSpec>();
        var tiers = new List<TierPolicy>();
        var orgs = new List<OrgPolicy>();

        var modelNames = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < Models.Count; i++)
        {
            var at = $"models[{i}]";
            if (!modelNames.Add(Models[i].Name))
            {
                errors.Add($"{at}.name: duplicate model '{Models[i].Name}'");
            }

            if (CheckModel(errors, at, Models[i]) is { } model)
            {
                models.Add(model);
            }
        }

        var tierNames = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < Tiers.Count; i++)
        {
            var at = $"tiers[{i}]";
            if (!tierNames.Add(Tiers[i].Name))
            {
                errors.Add($"{at}.name: duplicate tier '{Tiers[i].Name}'");
            }

            tiers.Add(CheckTier(errors, at, Tiers[i]));
        }

        var orgIds = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < Orgs.Count; i++)
        {
            var at = $"orgs[{i}]";
            if (!orgIds.Add(Orgs[i].Id))
            {
                errors.Add($"{at}.id: duplicate org '{Orgs[i].Id}'");
            }

            orgs.Add(CheckOrg(errors, at, Orgs[i], tierNames));
        }

        if (errors.Count > 0)
        {
            throw new PolicyException(errors);
        }

        return new PolicySnapshot(version, orgs, tiers, models);
    }

    /// <summary>Checks one model; null when it has a problem (added to <paramref name="errors"/> as "field: problem").</summary>
    public static ModelSpec? CheckModel(ICollection<string> errors, string at, ModelEntry m)
    {
        ArgumentNullException.ThrowIfNull(errors);
        ArgumentNullException.ThrowIfNull(m);
        var before = errors.Count;
        CheckName(errors, $"{at}.name", m.Name);
        ModelFamily? family = m.Family switch
        {
            "anthropic" => ModelFamily.Anthropic,
            "openai" => ModelFamily.OpenAi,
            "gemini" => ModelFamily.Gemini,
            _ => null,
        };
        if (family is null)
        {
            errors.Add($"{at}.family: must be anthropic, openai or gemini, not '{m.Family}'");
        }

        ThinkingMode? thinking = m.Thinking switch
        {
            "budget" => ThinkingMode.Budget,
            "effort" => ThinkingMode.Effort,
            "" => family == ModelFamily.OpenAi ? ThinkingMode.Effort : ThinkingMode.Budget,
            _ => null,
        };
        if (thinking is null)
        {
            errors.Add($"{at}.thinking: must be budget or effort, not '{m.Thinking}'");
        }

        var minThinking = m.MinThinkingTokens ?? (family == ModelFamily.Anthropic ? 1024 : 0);
        CheckRange(errors, $"{at}.min_thinking_tokens", minThinking, 0, 10_000_000);
        CheckRange(errors, $"{at}.max_thinking_tokens", m.MaxThinkingTokens, 0, 10_000_000);
        if (m.MaxThinkingTokens > 0 && m.MaxThinkingTokens < minThinking)
        {
            errors.Add($"{at}.max_thinking_tokens: must be >= min_thinking_tokens ({minThinking})");
        }

        var input = Price(errors, $"{at}.input_usd_per_mtok", m.InputUsdPerMtok);
        var output = Price(errors, $"{at}.output_usd_per_mtok", m.OutputUsdPerMtok);
        var cached = Price(errors, $"{at}.cached_input_usd_per_mtok", m.CachedInputUsdPerMtok ?? m.InputUsdPerMtok);
        var cacheWrite = Price(errors, $"{at}.cache_write_usd_per_mtok", m.CacheWriteUsdPerMtok ?? m.InputUsdPerMtok);
        if (errors.Count > before || family is not { } f || thinking is not { } t)
        {
            return null;
        }

        return new ModelSpec
        {
            Name = m.Name,
            Family = f,
            Thinking = t,
            MinThinkingTokens = minThinking,
            MaxThinkingTokens = m.MaxThinkingTokens,
            InputMicrosPerMillion = input,
            CachedInputMicrosPerMillion = cached,
            CacheWriteMicrosPerMillion = cacheWrite,
            OutputMicrosPerMillion = output,
        };
    }

    /// <summary>Checks one tier: its name, each rule, no duplicate task types, and a "*" rule.</summary>
    public static TierPolicy CheckTier(ICollection<string> errors, string at, TierEntry tier)
    {
        ArgumentNullException.ThrowIfNull(errors);
        ArgumentNullException.ThrowIfNull(tier);
        CheckName(errors, $"{at}.name", tier.Name);
        var rules = new Dictionary<string, TierRule>(StringComparer.Ordinal);
        for (var j = 0; j < tier.Rules.Count; j++)
        {
            var rule = ToRule(errors, $"{at}.rules[{j}]", tier.Rules[j]);
            if (rule is not null && !rules.TryAdd(rule.TaskType, rule))
            {
                errors.Add($"{at}.rules[{j}].task_type: duplicate rule for '{rule.TaskType}'");
            }
        }

        if (!rules.ContainsKey(TierRule.DefaultTaskType))
        {
            errors.Add($"{at}.rules: needs a default rule (task_type \"*\")");
        }

        if (!(tier.TargetTruncationRate > 0.0 && tier.TargetTruncationRate < 1.0))
        {
            errors.Add(string.Create(CultureInfo.InvariantCulture, $"{at}.target_truncation_rate: must be within 0..1, exclusive, not {tier.TargetTruncationRate}"));
        }

        return new TierPolicy(tier.Name, rules.ToFrozenDictionary(StringComparer.Ordinal)) { TargetTruncationRate = tier.TargetTruncationRate };
    }

    /// <summary>
    /// Checks one org: id, display name, projects, tier (against <paramref name="knownTiers"/> when
    /// given) and its quotas, with no duplicate quota ids.
    /// </summary>
    public static OrgPolicy CheckOrg(ICollection<string> errors, string at, OrgEntry org, IReadOnlySet<string>? knownTiers)
    {
        ArgumentNullException.ThrowIfNull(errors);
        ArgumentNullException.ThrowIfNull(org);
        CheckName(errors, $"{at}.id", org.Id);
        if (org.DisplayName.Length > MaxDisplayName)
        {
            errors.Add($"{at}.display_name: must be at most {MaxDisplayName} characters");
        }

        var projects = new HashSet<string>(StringComparer.Ordinal);
        for (var j = 0; j < org.Projects.Count; j++)
        {
            CheckName(errors, $"{at}.projects[{j}]", org.Projects[j]);
            if (!projects.Add(org.Projects[j]))
            {
                errors.Add($"{at}.projects[{j}]: duplicate project '{org.Projects[j]}'");
            }
        }

        if (knownTiers is not null && !knownTiers.Contains(org.Tier))
        {
            errors.Add($"{at}.tier: unknown tier '{org.Tier}'");
        }

        var quotas = new List<QuotaDefinition>();
        var quotaIds = new HashSet<string>(StringComparer.Ordinal);
        for (var j = 0; j < org.Quotas.Count; j++)
        {
            var quota = CheckQuota(errors, $"{at}.quotas[{j}]", org.Id, org.Quotas[j]);
            if (quota is null)
            {
                continue;
            }

            if (!quotaIds.Add(quota.Id))
            {
                errors.Add($"{at}.quotas[{j}]: duplicate quota '{quota.Id}' (give it an id)");
            }

            quotas.Add(quota);
        }

        return new OrgPolicy(org.Id, org.DisplayName.Length == 0 ? org.Id : org.DisplayName, org.Tier, quotas) { Projects = [.. org.Projects] };
    }

    private static TierRule? ToRule(ICollection<string> errors, string at, RuleEntry r)
    {
        var before = errors.Count;
        if (r.TaskType != TierRule.DefaultTaskType)
        {
            CheckName(errors, $"{at}.task_type", r.TaskType);
        }

        CheckRange(errors, $"{at}.min_reasoning_tokens", r.MinReasoningTokens, 0, 10_000_000);
        CheckRange(errors, $"{at}.max_reasoning_tokens", r.MaxReasoningTokens, 0, 10_000_000);
        CheckRange(errors, $"{at}.answer_tokens", r.AnswerTokens, 0, 10_000_000);
        CheckRange(errors, $"{at}.max_output_tokens", r.MaxOutputTokens, 1, 10_000_000);
        CheckRange(errors, $"{at}.task_budget_tokens", r.TaskBudgetTokens, 0, 1_000_000_000);
        if (r.MinReasoningTokens > r.MaxReasoningTokens)
        {
            errors.Add($"{at}.min_reasoning_tokens: must be <= max_reasoning_tokens ({r.MaxReasoningTokens})");
        }

        if (r.DefaultReasoningTokens < r.MinReasoningTokens || r.DefaultReasoningTokens > r.MaxReasoningTokens)
        {
            errors.Add($"{at}.default_reasoning_tokens: must be within min_reasoning_tokens..max_reasoning_tokens ({r.MinReasoningTokens}..{r.MaxReasoningTokens})");
        }

        if (r.MaxOutputTokens < r.MinReasoningTokens + r.AnswerTokens)
        {
            errors.Add($"{at}.max_output_tokens: must be >= min_reasoning_tokens + answer_tokens ({r.MinReasoningTokens + r.AnswerTokens})");
        }

        if (r.EscalationFactor is < 1.0 or > 16.0 || double.IsNaN(r.EscalationFactor))
        {
            errors.Add($"{at}.escalation_factor: must be within 1..16");
        }

        CheckRange(errors, $"{at}.min_samples", r.MinSamples, 1, 10_000_000);
        CheckFraction(errors, $"{at}.preliminary_fraction", r.PreliminaryFraction);
        CheckFraction(errors, $"{at}.soft_limit_threshold", r.SoftLimitThreshold);
        CheckFraction(errors, $"{at}.soft_limit_floor", r.SoftLimitFloor);
        ReasoningEffort? effort = r.Effort switch
        {
            "low" => ReasoningEffort.Low,
            "medium" => ReasoningEffort.Medium,
            "high" => ReasoningEffort.High,
            "max" => ReasoningEffort.Max,
            _ => null,
        };
        if (effort is null)
        {
            errors.Add($"{at}.effort: must be low, medium, high or max, not '{r.Effort}'");
        }

        return errors.Count > before ? null : new TierRule
        {
            TaskType = r.TaskType,
            MinReasoningTokens = r.MinReasoningTokens,
            DefaultReasoningTokens = r.DefaultReasoningTokens,
            MaxReasoningTokens = r.MaxReasoningTokens,
            AnswerTokens = r.AnswerTokens,
            MaxOutputTokens = r.MaxOutputTokens,
            Effort = effort!.Value,
            EscalationFactor = r.EscalationFactor,
            PreliminaryFraction = r.PreliminaryFraction,
            SoftLimitThreshold = r.SoftLimitThreshold,
            SoftLimitFloor = r.SoftLimitFloor,
            TaskBudgetTokens = r.TaskBudgetTokens,
            Adaptive = r.Adaptive,
            MinSamples = r.MinSamples,
        };
    }

    /// <summary>Checks one quota of <paramref name="orgId"/>; null when it has a problem.</summary>
    public static QuotaDefinition? CheckQuota(ICollection<string> errors, string at, string orgId, QuotaEntry q)
    {
        ArgumentNullException.ThrowIfNull(errors);
        ArgumentNullException.ThrowIfNull(q);
        var before = errors.Count;
        QuotaScope? scope = q.Scope switch
        {
            "org" => QuotaScope.Org,
            "project" => QuotaScope.Project,
            "principal" => QuotaScope.Principal,
            _ => null,
        };
        QuotaMetric? metric = q.Metric switch
        {
            "reasoning_tokens" => QuotaMetric.ReasoningTokens,
            "output_tokens" => QuotaMetric.OutputTokens,
            "total_tokens" => QuotaMetric.TotalTokens,
            "requests" => QuotaMetric.Requests,
            "cost_micros" => QuotaMetric.CostMicros,
            _ => null,
        };
        WindowKind? window = q.Window switch
        {
            "minute" => WindowKind.Minute,
            "hour" => WindowKind.Hour,
            "day" => WindowKind.Day,
            "month" => WindowKind.Month,
            _ => null,
        };
        if (scope is null)
        {
            errors.Add($"{at}.scope: must be org, project or principal, not '{q.Scope}'");
        }

        if (metric is null)
        {
            errors.Add($"{at}.metric: must be reasoning_tokens, output_tokens, total_tokens, requests or cost_micros, not '{q.Metric}'");
        }

        if (window is null)
        {
            errors.Add($"{at}.window: must be minute, hour, day or month, not '{q.Window}'");
        }

        if (scope == QuotaScope.Org && q.Subject.Length > 0)
        {
            errors.Add($"{at}.subject: an org quota has no subject");
        }
        else if (q.Subject.Length > 0)
        {
            CheckName(errors, $"{at}.subject", q.Subject);
        }

        CheckRange(errors, $"{at}.limit", q.Limit, 0, long.MaxValue / 4);
        if (q.Id is not null)
        {
            CheckName(errors, $"{at}.id", q.Id);
        }

        if (errors.Count > before)
        {
            return null;
        }

        var id = q.Id ?? string.Join(':', new[] { orgId, scope == QuotaScope.Org ? string.Empty : q.Scope, q.Subject, q.Metric, q.Window }.Where(s => s.Length > 0));
        return new QuotaDefinition
        {
            Id = id,
            OrgId = orgId,
            Scope = scope!.Value,
            Subject = q.Subject,
            Metric = metric!.Value,
            Window = window!.Value,
            Limit = q.Limit,
        };
    }

    private static long Price(ICollection<string> errors, string field, decimal usdPerMillion)
    {
        if (usdPerMillion is < 0 or > 1_000_000)
        {
            errors.Add($"{field}: must be within 0..1000000 USD per million tokens");
            return 0;
        }

        return (long)decimal.Round(usdPerMillion * 1_000_000m, MidpointRounding.AwayFromZero);
    }

    private static void CheckRange(ICollection<string> errors, string field, long value, long min, long max)
    {
        if (value < min || value > max)
        {
            errors.Add(string.Create(CultureInfo.InvariantCulture, $"{field}: must be within {min}..{max}, not {value}"));
        }
    }

    private static void CheckFraction(ICollection<string> errors, string field, double value)
    {
        if (!(value >= 0.0 && value <= 1.0))
        {
            errors.Add(string.Create(CultureInfo.InvariantCulture, $"{field}: must be within 0..1, not {value}"));
        }
    }

    private static void CheckName(ICollection<string> errors, string field, string value)
    {
        if (!NamePattern().IsMatch(value))
        {
            errors.Add($"{field}: must be 1..128 characters of letters, digits and . _ : - (got '{value}')");
        }
    }

    [GeneratedRegex("^[A-Za-z0-9._:-]{1,128}$")]
    internal static partial Regex NamePattern();
}

/// <summary>A policy that cannot be used, with every problem found, each naming its field.</summary>
public sealed class PolicyException(IReadOnlyList<string> errors)
    : Exception("Invalid policy: " + string.Join("; ", errors))
{
    public IReadOnlyList<string> Errors { get; } = errors;
}
