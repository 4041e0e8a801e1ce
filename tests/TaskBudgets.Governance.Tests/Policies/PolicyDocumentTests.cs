using TaskBudgets.Governance.Budgeting;
using TaskBudgets.Governance.Policies;
using TaskBudgets.Governance.Quotas;
using TaskBudgets.Policies;

namespace TaskBudgets.Governance.Tests.Policies;

public class PolicyDocumentTests
{
    private const string Valid = """
        models:
          - name: claude-sonnet-4-5
            family: anthropic
            input_usd_per_mtok: 3
            output_usd_per_mtok: 15
        tiers:
          - name: standard
            rules:
              - task_type: "*"
                min_reasoning_tokens: 1024
                default_reasoning_tokens: 4096
                max_reasoning_tokens: 16384
                answer_tokens: 2048
                max_output_tokens: 32768
        orgs:
          - id: demo
            tier: standard
            quotas:
              - metric: reasoning_tokens
                window: day
                limit: 1000
              - scope: principal
                metric: requests
                window: minute
                limit: 10
        """;

    [Fact]
    public void The_sample_policy_shipped_with_the_server_is_valid_and_has_the_demo_org()
    {
        var path = Path.Combine(AppContext.BaseDirectory, "policies", "policies.yaml");

        var snapshot = PolicyDocument.Load(path).ToSnapshot(1);

        Assert.Contains("demo", snapshot.Orgs.Keys);
        Assert.NotNull(snapshot.Tiers[snapshot.Orgs["demo"].Tier].RuleFor("anything"));
    }

    [Fact]
    public void The_policy_the_compose_stack_seeds_with_is_valid()
    {
        var path = Path.Combine(Repository.Root, "deploy", "policies", "policies.yaml");

        Assert.NotEmpty(PolicyDocument.Load(path).ToSnapshot(1).Orgs);
    }

    [Fact]
    public void A_valid_document_becomes_the_domain_policy()
    {
        var snapshot = PolicyDocument.Parse(Valid).ToSnapshot(7);

        Assert.Equal(7, snapshot.Version);
        var model = snapshot.Models["claude-sonnet-4-5"];
        Assert.Equal(1024, model.MinThinkingTokens);
        Assert.Equal(15_000_000, model.OutputMicrosPerMillion);
        Assert.Equal(3_000_000, model.CachedInputMicrosPerMillion);
        var quotas = snapshot.Orgs["demo"].Quotas;
        Assert.Equal(["demo:reasoning_tokens:day", "demo:principal:requests:minute"], quotas.Select(q => q.Id));
        Assert.Equal(QuotaScope.Principal, quotas[1].Scope);
    }

    public static TheoryData<string, string, string> Mistakes() => new()
    {
        { "surprise", "max_reasoning_tokens: 16384", "max_reasoning_tokens: 16384\n        surprise: 1" },
        { "min_reasoning_tokens", "min_reasoning_tokens: 1024", "min_reasoning_tokens: 20000" },
        { "soft_limit_threshold", "answer_tokens: 2048", "answer_tokens: 2048\n        soft_limit_threshold: 1.5" },
        { "limit", "limit: 1000", "limit: -5" },
        { "duplicate tier", "orgs:", "  - name: standard\n    rules:\n      - task_type: \"*\"\n        max_output_tokens: 10\norgs:" },
        { "unknown tier", "tier: standard", "tier: platinum" },
        { "family", "family: anthropic", "family: mistral" },
        { "window", "window: day", "window: fortnight" },
        { "needs a default rule", "task_type: \"*\"", "task_type: research" },
        { "default_reasoning_tokens", "default_reasoning_tokens: 4096", "default_reasoning_tokens: 99999" },
        { "must begin with its org's id ('demo:')", "  - metric: reasoning_tokens", "  - id: acme:reasoning_tokens:day\n        metric: reasoning_tokens" },
    };

    [Theory]
    [MemberData(nameof(Mistakes))]
    public void A_bad_policy_is_refused_with_an_error_naming_the_field(string expected, string find, string replace)
    {
        var yaml = Valid.Replace(find, replace, StringComparison.Ordinal);
        Assert.NotEqual(Valid, yaml);

        var error = Assert.Throws<PolicyException>(() => PolicyDocument.Parse(yaml).ToSnapshot(1));

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Adaptive_rules_and_a_tiers_truncation_target_are_read_with_their_defaults()
    {
        var defaults = PolicyDocument.Parse(Valid).ToSnapshot(1).Tiers["standard"];
        Assert.Equal(0.02, defaults.TargetTruncationRate);
        Assert.False(defaults.Rules["*"].Adaptive);
        Assert.Equal(200, defaults.Rules["*"].MinSamples);

        var yaml = Valid.Replace("  - name: standard\n    rules:", "  - name: standard\n    target_truncation_rate: 0.05\n    rules:", StringComparison.Ordinal)
            .Replace("max_output_tokens: 32768", "max_output_tokens: 32768\n        adaptive: true\n        min_samples: 50", StringComparison.Ordinal);
        var tier = PolicyDocument.Parse(yaml).ToSnapshot(1).Tiers["standard"];
        Assert.Equal(0.05, tier.TargetTruncationRate);
        Assert.True(tier.Rules["*"].Adaptive);
        Assert.Equal(50, tier.Rules["*"].MinSamples);
    }

    [Theory]
    [InlineData("target_truncation_rate: 0", "tiers[0].target_truncation_rate")]
    [InlineData("target_truncation_rate: 1", "tiers[0].target_truncation_rate")]
    [InlineData("target_truncation_rate: -0.1", "tiers[0].target_truncation_rate")]
    public void A_truncation_target_outside_zero_to_one_is_refused_naming_the_field(string line, string field)
    {
        var yaml = Valid.Replace("  - name: standard\n    rules:", $"  - name: standard\n    {line}\n    rules:", StringComparison.Ordinal);
        var e = Assert.Throws<PolicyException>(() => PolicyDocument.Parse(yaml).ToSnapshot(1));
        Assert.Contains(e.Errors, m => m.StartsWith(field, StringComparison.Ordinal));
    }

    [Fact]
    public void Min_samples_below_one_is_refused_naming_the_field()
    {
        var yaml = Valid.Replace("max_output_tokens: 32768", "max_output_tokens: 32768\n        min_samples: 0", StringComparison.Ordinal);
        var e = Assert.Throws<PolicyException>(() => PolicyDocument.Parse(yaml).ToSnapshot(1));
        Assert.Contains(e.Errors, m => m.StartsWith("tiers[0].rules[0].min_samples", StringComparison.Ordinal));
    }
}
