namespace TaskBudgets.Governance.Budgeting;

/// <summary>A budget in the request parameters of the model's provider family.</summary>
/// <param name="MaxTokens">Anthropic max_tokens, OpenAI max_completion_tokens, Gemini maxOutputTokens.</param>
/// <param name="ThinkingBudget">Anthropic thinking.budget_tokens or Gemini thinkingBudget; 0 when the model takes effort only.</param>
/// <param name="Effort">The provider's effort word, or empty.</param>
public readonly record struct ProviderParameters(
    ModelFamily Family,
    long MaxTokens,
    long ThinkingBudget,
    string Effort,
    long TaskBudgetTotal,
    long TaskBudgetRemaining)
{
    public static ProviderParameters For(ModelSpec model, in BudgetDecision decision, long taskBudgetTotal)
    {
        var thinking = model.Thinking == ThinkingMode.Budget ? decision.ReasoningTokens : 0;
        return model.Family switch
        {
            ModelFamily.Anthropic => new(
                ModelFamily.Anthropic,
                decision.MaxOutputTokens,
                thinking,
                AnthropicEffort(decision.Effort),
                taskBudgetTotal,
                decision.TaskBudgetTokens),
            ModelFamily.OpenAi => new(ModelFamily.OpenAi, decision.MaxOutputTokens, 0, OpenAiEffort(decision.Effort), 0, 0),
            ModelFamily.Gemini => new(ModelFamily.Gemini, decision.MaxOutputTokens, thinking, string.Empty, 0, 0),
            _ => throw new ArgumentOutOfRangeException(nameof(model), model.Family, "Unknown model family."),
        };
    }

    private static string AnthropicEffort(ReasoningEffort effort) => effort switch
    {
        ReasoningEffort.Low => "low",
        ReasoningEffort.Medium => "medium",
        ReasoningEffort.High => "high",
        _ => "max",
    };

    // OpenAI has no level above "high".
    private static string OpenAiEffort(ReasoningEffort effort) => effort switch
    {
        ReasoningEffort.Low => "low",
        ReasoningEffort.Medium => "medium",
        _ => "high",
    };
}
