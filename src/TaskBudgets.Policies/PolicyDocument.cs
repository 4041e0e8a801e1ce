using YamlDotNet.Core;
using YamlDotNet.Serialization;
using YamlDotNet.Serialization.NamingConventions;

namespace TaskBudgets.Policies;

/// <summary>
/// The declarative policy file (YAML): models with prices, tiers with rules, orgs with quotas.
/// The server loads it at start and `taskbudgets apply` makes a running server match it; the
/// format is documented in docs/configuration.md. The entries are the file's shape only: <see cref="Check"/>
/// turns them into checked values.
/// </summary>
public sealed partial class PolicyDocument
{
    public List<ModelEntry> Models { get; set; } = [];

    public List<TierEntry> Tiers { get; set; } = [];

    public List<OrgEntry> Orgs { get; set; } = [];

    /// <summary>Reads a policy file. Unknown fields and malformed YAML are errors that name the line.</summary>
    /// <exception cref="PolicyException">The YAML cannot be read as a policy file.</exception>
    public static PolicyDocument Parse(string yaml)
    {
        var deserializer = new DeserializerBuilder()
            .WithNamingConvention(UnderscoredNamingConvention.Instance)
            .WithEnforceRequiredMembers()
            .Build();
        try
        {
            RefuseScalarRoot(yaml);
            return deserializer.Deserialize<PolicyDocument?>(yaml) ?? new PolicyDocument();
        }
        catch (YamlException e)
        {
            var inner = e.InnerException is null ? string.Empty : $" ({e.InnerException.Message})";
            throw new PolicyException([$"line {e.Start.Line}, column {e.Start.Column}: {e.Message}{inner}"]);
        }
    }

    /// <summary>
    /// A document that is one scalar ("acme") is no policy. YamlDotNet reads a scalar into a type
    /// through the type's static Parse(string), which is this method: it would call itself until
    /// the stack overflows and the process dies. A null scalar is an empty document, as before.
    /// </summary>
    private static void RefuseScalarRoot(string yaml)
    {
        var parser = new Parser(new StringReader(yaml));
        parser.Consume<YamlDotNet.Core.Events.StreamStart>();
        if (!parser.TryConsume<YamlDotNet.Core.Events.DocumentStart>(out _))
        {
            return;
        }

        if (parser.Current is YamlDotNet.Core.Events.Scalar { Value: not ("" or "~" or "null" or "Null" or "NULL") } scalar)
        {
            throw new PolicyException([$"line {scalar.Start.Line}, column {scalar.Start.Column}: a policy document is a mapping of models, tiers and orgs, not a single value"]);
        }
    }

    /// <inheritdoc cref="Parse"/>
    public static PolicyDocument Load(string path) => Parse(File.ReadAllText(path));

    /// <summary>Checks the whole document; every problem names its field.</summary>
    /// <exception cref="PolicyException">The document has at least one problem.</exception>
    public CheckedPolicy Check()
    {
        var errors = new List<string>();
        var models = new List<CheckedModel>();
        var tiers = new List<CheckedTier>();
        var orgs = new List<CheckedOrg>();

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

        return errors.Count > 0 ? throw new PolicyException(errors) : new CheckedPolicy(models, tiers, orgs);
    }

    /// <summary>Checks one tier of a file on its own (no check against the file's other tiers).</summary>
    public static CheckedTier CheckTier(ICollection<string> errors, string at, TierEntry tier)
    {
        ArgumentNullException.ThrowIfNull(errors);
        ArgumentNullException.ThrowIfNull(tier);
        return PolicyChecks.Tier(errors, at, tier.Name, tier.TargetTruncationRate, tier.Rules, (rule, ruleAt) => CheckRule(errors, ruleAt, rule));
    }

    private static CheckedModel? CheckModel(List<string> errors, string at, ModelEntry m) =>
        PolicyChecks.Model(
            errors,
            at,
            m.Name,
            m.Family,
            m.Thinking,
            m.MinThinkingTokens,
            m.MaxThinkingTokens,
            m.InputUsdPerMtok,
            m.OutputUsdPerMtok,
            m.CachedInputUsdPerMtok,
            m.CacheWriteUsdPerMtok);

    private static CheckedRule? CheckRule(ICollection<string> errors, string at, RuleEntry r)
    {
        // An unknown effort is a name the enum cannot hold: the rest is checked with the default
        // effort, and the effort's problem comes last, as the rule's other checks put it.
        var effort = PolicyVocabulary.Effort(r.Effort);
        var rule = PolicyChecks.Rule(errors, at, new CheckedRule
        {
            TaskType = r.TaskType,
            MinReasoningTokens = r.MinReasoningTokens,
            DefaultReasoningTokens = r.DefaultReasoningTokens,
            MaxReasoningTokens = r.MaxReasoningTokens,
            AnswerTokens = r.AnswerTokens,
            MaxOutputTokens = r.MaxOutputTokens,
            Effort = effort ?? CheckedRule.DefaultEffort,
            EscalationFactor = r.EscalationFactor,
            PreliminaryFraction = r.PreliminaryFraction,
            SoftLimitThreshold = r.SoftLimitThreshold,
            SoftLimitFloor = r.SoftLimitFloor,
            TaskBudgetTokens = r.TaskBudgetTokens,
            Adaptive = r.Adaptive,
            MinSamples = r.MinSamples,
        });
        if (effort is null)
        {
            errors.Add(FieldChecks.UnknownEffort($"{at}.effort", r.Effort));
            return null;
        }

        return rule;
    }

    private static CheckedOrg CheckOrg(List<string> errors, string at, OrgEntry org, IReadOnlySet<string> knownTiers)
    {
        var checkedOrg = PolicyChecks.Org(errors, at, org.Id, org.DisplayName, org.Tier, org.Projects, knownTiers);
        var quotas = new List<CheckedQuota>();
        var quotaIds = new HashSet<string>(StringComparer.Ordinal);
        for (var j = 0; j < org.Quotas.Count; j++)
        {
            var q = org.Quotas[j];
            var quota = PolicyChecks.Quota(errors, $"{at}.quotas[{j}]", org.Id, q.Id, q.Scope, q.Subject, q.Metric, q.Window, q.Limit);
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

        return checkedOrg with { Quotas = quotas };
    }
}
