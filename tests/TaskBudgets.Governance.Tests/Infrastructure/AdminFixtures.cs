using TaskBudgets.V1;

namespace TaskBudgets.Governance.Tests.Infrastructure;

/// <summary>Small valid admin resources to start from.</summary>
public static class AdminFixtures
{
    public static Tier Tier(string name, long min = 0, long max = 4096) => new()
    {
        Name = name,
        Rules =
        {
            new TierRule
            {
                TaskType = "*",
                MinReasoningTokens = min,
                DefaultReasoningTokens = min,
                MaxReasoningTokens = max,
                AnswerTokens = 512,
                MaxOutputTokens = max + 1024,
                Effort = Effort.Low,
            },
        },
    };

    public static Model Model(string name) => new()
    {
        Name = name,
        Family = ModelFamily.Openai,
        InputMicrosPerMtok = 1_000_000,
        OutputMicrosPerMtok = 4_000_000,
    };
}
