using System.Globalization;
using System.Text;

namespace TaskBudgets.LoadTest;

/// <summary>
/// The policy a started server runs under: the sample policy's models and standard tier, and N
/// orgs shaped like its "demo" org (four quotas, one per principal) with limits no run reaches,
/// so every call is decided and reserved in full and none is denied.
/// </summary>
internal static class LoadPolicy
{
    public static string OrgId(int index) => "load-" + index.ToString(CultureInfo.InvariantCulture);

    public static string Yaml(int orgs)
    {
        var yaml = new StringBuilder("""
            models:
              - name: claude-sonnet-4-5
                family: anthropic
                thinking: budget
                input_usd_per_mtok: 3
                cached_input_usd_per_mtok: 0.30
                cache_write_usd_per_mtok: 3.75
                output_usd_per_mtok: 15
              - name: gpt-5
                family: openai
                thinking: effort
                input_usd_per_mtok: 1.25
                cached_input_usd_per_mtok: 0.125
                output_usd_per_mtok: 10
              - name: gemini-2.5-flash
                family: gemini
                thinking: budget
                min_thinking_tokens: 1
                max_thinking_tokens: 24576
                input_usd_per_mtok: 0.30
                cached_input_usd_per_mtok: 0.075
                output_usd_per_mtok: 2.50
            tiers:
              - name: standard
                rules:
                  - task_type: "*"
                    min_reasoning_tokens: 1024
                    default_reasoning_tokens: 4096
                    max_reasoning_tokens: 16384
                    answer_tokens: 2048
                    max_output_tokens: 32768
                    effort: medium
                  - task_type: classification
                    min_reasoning_tokens: 0
                    default_reasoning_tokens: 1024
                    max_reasoning_tokens: 2048
                    answer_tokens: 256
                    max_output_tokens: 4096
                    effort: low
                    escalation_factor: 1.5
                  - task_type: support
                    min_reasoning_tokens: 1024
                    default_reasoning_tokens: 2048
                    max_reasoning_tokens: 8192
                    answer_tokens: 2048
                    max_output_tokens: 16384
                    effort: low
                  - task_type: research
                    min_reasoning_tokens: 4096
                    default_reasoning_tokens: 16384
                    max_reasoning_tokens: 32768
                    answer_tokens: 8192
                    max_output_tokens: 64000
                    effort: high
                    preliminary_fraction: 0.2
                    task_budget_tokens: 400000
            orgs:

            """);
        for (var i = 0; i < orgs; i++)
        {
            yaml.Append(CultureInfo.InvariantCulture, $"""
                  - id: {OrgId(i)}
                    tier: standard
                    quotas:
                      - metric: reasoning_tokens
                        window: day
                        limit: 1000000000000000
                      - metric: cost_micros
                        window: month
                        limit: 1000000000000000
                      - metric: requests
                        window: minute
                        limit: 1000000000000
                      - scope: principal
                        metric: total_tokens
                        window: hour
                        limit: 1000000000000000

                """);
        }

        return yaml.ToString();
    }
}
