using System.Globalization;

namespace TaskBudgets.Policies;

/// <summary>
/// The checks of models, tiers, rules, orgs and quotas on plain values, shared by the policy file
/// and the admin API. Each adds every problem to the errors as "field: problem", the field named
/// under <c>at</c> with the policy file's field names, and returns the checked value.
/// </summary>
public static class PolicyChecks
{
    /// <summary>The longest display name of an org.</summary>
    public const int MaxDisplayName = 256;

    /// <summary>Checks one model; null when it has a problem.</summary>
    /// <param name="family">anthropic, openai or gemini.</param>
    /// <param name="thinking">budget, effort, or empty for the family's usual one (effort for openai, else budget).</param>
    /// <param name="minThinkingTokens">Null for the family's smallest budget (1024 for anthropic, else 0).</param>
    /// <param name="cachedInputUsdPerMtok">Null for the input price.</param>
    /// <param name="cacheWriteUsdPerMtok">Null for the input price.</param>
    public static CheckedModel? Model(
        ICollection<string> errors,
        string at,
        string name,
        string family,
        string thinking,
        long? minThinkingTokens,
        long maxThinkingTokens,
        decimal inputUsdPerMtok,
        decimal outputUsdPerMtok,
        decimal? cachedInputUsdPerMtok,
        decimal? cacheWriteUsdPerMtok)
    {
        ArgumentNullException.ThrowIfNull(errors);
        var before = errors.Count;
        FieldChecks.Name(errors, $"{at}.name", name);
        var checkedFamily = PolicyVocabulary.Family(family);
        if (checkedFamily is null)
        {
            errors.Add($"{at}.family: must be anthropic, openai or gemini, not '{family}'");
        }

        var checkedThinking = thinking.Length == 0
            ? checkedFamily == PolicyFamily.OpenAi ? PolicyThinking.Effort : PolicyThinking.Budget
            : PolicyVocabulary.Thinking(thinking);
        if (checkedThinking is null)
        {
            errors.Add($"{at}.thinking: must be budget or effort, not '{thinking}'");
        }

        var minThinking = minThinkingTokens ?? (checkedFamily == PolicyFamily.Anthropic ? 1024 : 0);
        FieldChecks.Range(errors, $"{at}.min_thinking_tokens", minThinking, 0, 10_000_000);
        FieldChecks.Range(errors, $"{at}.max_thinking_tokens", maxThinkingTokens, 0, 10_000_000);
        if (maxThinkingTokens > 0 && maxThinkingTokens < minThinking)
        {
            errors.Add($"{at}.max_thinking_tokens: must be >= min_thinking_tokens ({minThinking})");
        }

        var input = FieldChecks.Price(errors, $"{at}.input_usd_per_mtok", inputUsdPerMtok);
        var output = FieldChecks.Price(errors, $"{at}.output_usd_per_mtok", outputUsdPerMtok);
        var cached = FieldChecks.Price(errors, $"{at}.cached_input_usd_per_mtok", cachedInputUsdPerMtok ?? inputUsdPerMtok);
        var cacheWrite = FieldChecks.Price(errors, $"{at}.cache_write_usd_per_mtok", cacheWriteUsdPerMtok ?? inputUsdPerMtok);
        if (errors.Count > before || checkedFamily is not { } f || checkedThinking is not { } t)
        {
            return null;
        }

        return new CheckedModel(name, f, t, minThinking, maxThinkingTokens, input, cached, cacheWrite, output);
    }

    /// <summary>
    /// Checks one tier: its name, each rule (with <paramref name="checkRule"/>, given the rule and
    /// its field), no duplicate task types, a "*" rule, and the truncation target.
    /// </summary>
    public static CheckedTier Tier<TRule>(
        ICollection<string> errors,
        string at,
        string name,
        double targetTruncationRate,
        IReadOnlyList<TRule> rules,
        Func<TRule, string, CheckedRule?> checkRule)
    {
        ArgumentNullException.ThrowIfNull(errors);
        ArgumentNullException.ThrowIfNull(rules);
        ArgumentNullException.ThrowIfNull(checkRule);
        FieldChecks.Name(errors, $"{at}.name", name);
        var byTaskType = new Dictionary<string, CheckedRule>(StringComparer.Ordinal);
        var checkedRules = new List<CheckedRule>();
        for (var j = 0; j < rules.Count; j++)
        {
            var rule = checkRule(rules[j], $"{at}.rules[{j}]");
            if (rule is null)
            {
                continue;
            }

            if (byTaskType.TryAdd(rule.TaskType, rule))
            {
                checkedRules.Add(rule);
            }
            else
            {
                errors.Add($"{at}.rules[{j}].task_type: duplicate rule for '{rule.TaskType}'");
            }
        }

        if (!byTaskType.ContainsKey(CheckedRule.DefaultTaskType))
        {
            errors.Add($"{at}.rules: needs a default rule (task_type \"*\")");
        }

        if (!(targetTruncationRate > 0.0 && targetTruncationRate < 1.0))
        {
            errors.Add(string.Create(CultureInfo.InvariantCulture, $"{at}.target_truncation_rate: must be within 0..1, exclusive, not {targetTruncationRate}"));
        }

        return new CheckedTier(name, targetTruncationRate, checkedRules);
    }

    /// <summary>Checks one rule; null when it has a problem. An effort outside the enum is reported as its number.</summary>
    public static CheckedRule? Rule(ICollection<string> errors, string at, CheckedRule rule)
    {
        ArgumentNullException.ThrowIfNull(errors);
        ArgumentNullException.ThrowIfNull(rule);
        var before = errors.Count;
        if (rule.TaskType != CheckedRule.DefaultTaskType)
        {
            FieldChecks.Name(errors, $"{at}.task_type", rule.TaskType);
        }

        FieldChecks.Range(errors, $"{at}.min_reasoning_tokens", rule.MinReasoningTokens, 0, 10_000_000);
        FieldChecks.Range(errors, $"{at}.max_reasoning_tokens", rule.MaxReasoningTokens, 0, 10_000_000);
        FieldChecks.Range(errors, $"{at}.answer_tokens", rule.AnswerTokens, 0, 10_000_000);
        FieldChecks.Range(errors, $"{at}.max_output_tokens", rule.MaxOutputTokens, 1, 10_000_000);
        FieldChecks.Range(errors, $"{at}.task_budget_tokens", rule.TaskBudgetTokens, 0, 1_000_000_000);
        if (rule.MinReasoningTokens > rule.MaxReasoningTokens)
        {
            errors.Add($"{at}.min_reasoning_tokens: must be <= max_reasoning_tokens ({rule.MaxReasoningTokens})");
        }

        if (rule.DefaultReasoningTokens < rule.MinReasoningTokens || rule.DefaultReasoningTokens > rule.MaxReasoningTokens)
        {
            errors.Add($"{at}.default_reasoning_tokens: must be within min_reasoning_tokens..max_reasoning_tokens ({rule.MinReasoningTokens}..{rule.MaxReasoningTokens})");
        }

        if (rule.MaxOutputTokens < rule.MinReasoningTokens + rule.AnswerTokens)
        {
            errors.Add($"{at}.max_output_tokens: must be >= min_reasoning_tokens + answer_tokens ({rule.MinReasoningTokens + rule.AnswerTokens})");
        }

        if (rule.EscalationFactor is < 1.0 or > 16.0 || double.IsNaN(rule.EscalationFactor))
        {
            errors.Add($"{at}.escalation_factor: must be within 1..16");
        }

        FieldChecks.Range(errors, $"{at}.min_samples", rule.MinSamples, 1, 10_000_000);
        FieldChecks.Fraction(errors, $"{at}.preliminary_fraction", rule.PreliminaryFraction);
        FieldChecks.Fraction(errors, $"{at}.soft_limit_threshold", rule.SoftLimitThreshold);
        FieldChecks.Fraction(errors, $"{at}.soft_limit_floor", rule.SoftLimitFloor);
        if (!Enum.IsDefined(rule.Effort))
        {
            errors.Add(FieldChecks.UnknownEffort($"{at}.effort", PolicyVocabulary.Name(rule.Effort)));
        }

        return errors.Count > before ? null : rule;
    }

    /// <summary>
    /// Checks an org without its quotas: id, display name, projects (no duplicates) and tier
    /// (against <paramref name="knownTiers"/> when given). The admin API checks the tier against the database.
    /// </summary>
    public static CheckedOrg Org(ICollection<string> errors, string at, string id, string displayName, string tier, IReadOnlyList<string> projects, IReadOnlySet<string>? knownTiers)
    {
        ArgumentNullException.ThrowIfNull(errors);
        ArgumentNullException.ThrowIfNull(projects);
        FieldChecks.Name(errors, $"{at}.id", id);
        if (displayName.Length > MaxDisplayName)
        {
            errors.Add($"{at}.display_name: must be at most {MaxDisplayName} characters");
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var j = 0; j < projects.Count; j++)
        {
            FieldChecks.Name(errors, $"{at}.projects[{j}]", projects[j]);
            if (!seen.Add(projects[j]))
            {
                errors.Add($"{at}.projects[{j}]: duplicate project '{projects[j]}'");
            }
        }

        if (knownTiers is not null && !knownTiers.Contains(tier))
        {
            errors.Add($"{at}.tier: unknown tier '{tier}'");
        }

        return new CheckedOrg(id, displayName.Length == 0 ? id : displayName, tier, [.. projects], []);
    }

    /// <summary>Checks one quota of <paramref name="orgId"/>; null when it has a problem.</summary>
    /// <param name="id">Null to derive it from org, scope, subject, metric and window.</param>
    /// <param name="scope">org, project or principal.</param>
    /// <param name="subject">For project or principal scope: the one it is for; empty for each one separately.</param>
    /// <param name="metric">reasoning_tokens, output_tokens, total_tokens, requests or cost_micros.</param>
    /// <param name="window">minute, hour, day or month.</param>
    public static CheckedQuota? Quota(ICollection<string> errors, string at, string orgId, string? id, string scope, string subject, string metric, string window, long limit)
    {
        ArgumentNullException.ThrowIfNull(errors);
        var before = errors.Count;
        var checkedScope = PolicyVocabulary.Scope(scope);
        var checkedMetric = PolicyVocabulary.Metric(metric);
        var checkedWindow = PolicyVocabulary.Window(window);
        if (checkedScope is null)
        {
            errors.Add($"{at}.scope: must be org, project or principal, not '{scope}'");
        }

        if (checkedMetric is null)
        {
            errors.Add($"{at}.metric: must be reasoning_tokens, output_tokens, total_tokens, requests or cost_micros, not '{metric}'");
        }

        if (checkedWindow is null)
        {
            errors.Add($"{at}.window: must be minute, hour, day or month, not '{window}'");
        }

        if (checkedScope == PolicyScope.Org && subject.Length > 0)
        {
            errors.Add($"{at}.subject: an org quota has no subject");
        }
        else if (subject.Length > 0)
        {
            FieldChecks.Name(errors, $"{at}.subject", subject);
        }

        FieldChecks.Range(errors, $"{at}.limit", limit, 0, long.MaxValue / 4);
        if (id is not null)
        {
            FieldChecks.Name(errors, $"{at}.id", id);

            // An id that names an org names its own: then an org's ids cannot collide with another
            // org's, and no answer about one org's id can tell of another org's quotas.
            var colon = id.IndexOf(':', StringComparison.Ordinal);
            if (colon >= 0 && !id.AsSpan(0, colon).SequenceEqual(orgId))
            {
                errors.Add($"{at}.id: a quota id with a ':' must begin with its org's id ('{orgId}:'), not '{id[..colon]}:'");
            }
        }

        if (errors.Count > before || checkedScope is not { } s || checkedMetric is not { } m || checkedWindow is not { } w)
        {
            return null;
        }

        // The derived id names what the quota counts, so the same quota declared again keeps its counters.
        id ??= string.Join(':', new[] { orgId, s == PolicyScope.Org ? string.Empty : scope, subject, metric, window }.Where(part => part.Length > 0));
        return new CheckedQuota(id, orgId, s, subject, m, w, limit);
    }
}
