namespace TaskBudgets.Governance.Tests.Infrastructure;

/// <summary>The policy the gRPC tests run under: small, exact limits so every number can be checked.</summary>
public static class TestPolicy
{
    public const string Yaml = """
        models:
          - name: claude-test
            family: anthropic
            thinking: budget
            input_usd_per_mtok: 3
            output_usd_per_mtok: 15
          - name: gpt-test
            family: openai
            thinking: effort
            input_usd_per_mtok: 1.25
            output_usd_per_mtok: 10
          - name: gemini-test
            family: gemini
            thinking: budget
            min_thinking_tokens: 128
            max_thinking_tokens: 8192
            input_usd_per_mtok: 1.25
            output_usd_per_mtok: 10
        tiers:
          - name: standard
            rules:
              - task_type: "*"
                min_reasoning_tokens: 1024
                default_reasoning_tokens: 2048
                max_reasoning_tokens: 8192
                answer_tokens: 1024
                max_output_tokens: 16384
                effort: medium
                soft_limit_threshold: 1.0
              - task_type: soft
                min_reasoning_tokens: 1024
                default_reasoning_tokens: 2048
                max_reasoning_tokens: 8192
                answer_tokens: 1024
                max_output_tokens: 16384
                soft_limit_threshold: 0.5
                soft_limit_floor: 0.25
              - task_type: agent
                min_reasoning_tokens: 1024
                default_reasoning_tokens: 2048
                max_reasoning_tokens: 8192
                answer_tokens: 1024
                max_output_tokens: 16384
                soft_limit_threshold: 1.0
                task_budget_tokens: 10000
              - task_type: classification
                min_reasoning_tokens: 0
                default_reasoning_tokens: 512
                max_reasoning_tokens: 1024
                answer_tokens: 256
                max_output_tokens: 2048
                effort: low
                soft_limit_threshold: 1.0
        orgs:
          - id: acme
            tier: standard
            quotas:
              - metric: reasoning_tokens
                window: day
                limit: 10000000
              - metric: requests
                window: minute
                limit: 100000
              - scope: principal
                metric: total_tokens
                window: hour
                limit: 1000000
          - id: small
            tier: standard
            quotas:
              - metric: reasoning_tokens
                window: day
                limit: 20000
          - id: capped
            tier: standard
            quotas:
              - metric: requests
                window: minute
                limit: 5
          - id: soft
            tier: standard
            quotas:
              - metric: reasoning_tokens
                window: day
                limit: 10000
        """;

    /// <summary>
    /// One model and one rule under which every grant reserves exactly 1,024 reasoning tokens (the
    /// model's thinking floor), for the replica tests' counting; <paramref name="orgs"/> is the
    /// YAML list of orgs, indented as the orgs' items.
    /// </summary>
    public static string FixedGrant(string orgs) => FixedGrantHeader + "\n" + orgs;

    private const string FixedGrantHeader = """
        models:
          - name: claude-test
            family: anthropic
            thinking: budget
            input_usd_per_mtok: 3
            output_usd_per_mtok: 15
        tiers:
          - name: standard
            rules:
              - task_type: "*"
                min_reasoning_tokens: 1000
                default_reasoning_tokens: 1000
                max_reasoning_tokens: 1000
                answer_tokens: 1000
                max_output_tokens: 4000
                soft_limit_threshold: 1.0
        orgs:
        """;
}
