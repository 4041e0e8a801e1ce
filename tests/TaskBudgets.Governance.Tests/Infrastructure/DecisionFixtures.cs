using TaskBudgets.Governance.Budgeting;

namespace TaskBudgets.Governance.Tests.Infrastructure;

/// <summary>Models and calls for the decision's unit tests; each test class keeps the rule whose numbers it checks.</summary>
public static class DecisionFixtures
{
    /// <summary>Manual thinking with Anthropic's 1,024-token floor; $3 / $15 per million tokens.</summary>
    public static readonly ModelSpec Claude = new()
    {
        Name = "claude",
        Family = ModelFamily.Anthropic,
        Thinking = ThinkingMode.Budget,
        MinThinkingTokens = 1024,
        InputMicrosPerMillion = 3_000_000,
        OutputMicrosPerMillion = 15_000_000,
    };

    /// <summary>Thinking budgets within 128..8,192 tokens; $1.25 / $10 per million tokens.</summary>
    public static readonly ModelSpec Gemini = new()
    {
        Name = "gemini",
        Family = ModelFamily.Gemini,
        Thinking = ThinkingMode.Budget,
        MinThinkingTokens = 128,
        MaxThinkingTokens = 8192,
        InputMicrosPerMillion = 1_250_000,
        OutputMicrosPerMillion = 10_000_000,
    };

    /// <summary>An effort-only model: no provider floor or ceiling on the thinking budget; $1 / $10 per million tokens.</summary>
    public static readonly ModelSpec EffortOnly = new()
    {
        Name = "m",
        Family = ModelFamily.OpenAi,
        Thinking = ThinkingMode.Effort,
        InputMicrosPerMillion = 1_000_000,
        OutputMicrosPerMillion = 10_000_000,
    };

    /// <summary>What a caller says about a call: a plain first attempt unless told otherwise.</summary>
    public static CallFeatures Features(
        double? complexity = null,
        long input = 0,
        int attempt = 1,
        bool truncated = false,
        CallPhase phase = CallPhase.Standard,
        CallPriority priority = CallPriority.Normal) =>
        new(complexity, input, attempt, truncated, phase, priority);
}
