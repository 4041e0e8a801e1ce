namespace TaskBudgets.Policies;

/// <summary>The entries of a policy file, field for field as the YAML has them (snake_case).</summary>
public sealed partial class PolicyDocument
{
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
        public double TargetTruncationRate { get; set; } = CheckedTier.DefaultTargetTruncationRate;

        public List<RuleEntry> Rules { get; set; } = [];
    }

    public sealed class RuleEntry
    {
        public string TaskType { get; set; } = string.Empty;

        public long MinReasoningTokens { get; set; }

        public long DefaultReasoningTokens { get; set; }

        public long MaxReasoningTokens { get; set; }

        public long AnswerTokens { get; set; } = CheckedRule.DefaultAnswerTokens;

        public long MaxOutputTokens { get; set; }

        public string Effort { get; set; } = "medium";

        public double EscalationFactor { get; set; } = CheckedRule.DefaultEscalationFactor;

        public double PreliminaryFraction { get; set; } = CheckedRule.DefaultPreliminaryFraction;

        public double SoftLimitThreshold { get; set; } = CheckedRule.DefaultSoftLimitThreshold;

        public double SoftLimitFloor { get; set; } = CheckedRule.DefaultSoftLimitFloor;

        public long TaskBudgetTokens { get; set; }

        /// <summary>Take the base budget from the calibration once it has <see cref="MinSamples"/> calls.</summary>
        public bool Adaptive { get; set; }

        public int MinSamples { get; set; } = CheckedRule.DefaultMinSamples;
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
}
