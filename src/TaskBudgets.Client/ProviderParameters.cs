namespace TaskBudgets.Client;

/// <summary>A model provider family, as the service's policy names it.</summary>
public enum ModelFamily
{
    /// <summary>Anthropic (Messages API).</summary>
    Anthropic = 1,

    /// <summary>OpenAI (Chat Completions or Responses API).</summary>
    OpenAi = 2,

    /// <summary>Google Gemini (generateContent).</summary>
    Gemini = 3,
}

/// <summary>
/// Ready-to-use request parameters for the model's family: one of <see cref="AnthropicParameters"/>,
/// <see cref="OpenAiParameters"/> or <see cref="GeminiParameters"/>.
/// </summary>
public abstract record ProviderParameters
{
    private protected ProviderParameters()
    {
    }

    /// <summary>The family these parameters are for.</summary>
    public abstract ModelFamily Family { get; }
}

/// <summary>Parameters of Anthropic's Messages API.</summary>
/// <param name="MaxTokens"><c>max_tokens</c>: the hard cap, thinking included.</param>
/// <param name="ThinkingBudgetTokens"><c>thinking.budget_tokens</c> for manual thinking (at least 1024 and below max_tokens); 0 for adaptive-thinking models, which take effort instead.</param>
/// <param name="Effort"><c>output_config.effort</c>: "low", "medium", "high" or "max".</param>
/// <param name="TaskBudgetTotal"><c>output_config.task_budget.total</c>; 0 when there is no task budget.</param>
/// <param name="TaskBudgetRemaining"><c>output_config.task_budget.remaining</c>; 0 when there is no task budget.</param>
public sealed record AnthropicParameters(long MaxTokens, long ThinkingBudgetTokens, string Effort, long TaskBudgetTotal, long TaskBudgetRemaining) : ProviderParameters
{
    /// <inheritdoc />
    public override ModelFamily Family => ModelFamily.Anthropic;
}

/// <summary>Parameters of OpenAI's Chat Completions and Responses APIs.</summary>
/// <param name="ReasoningEffort"><c>reasoning_effort</c>: "low", "medium" or "high".</param>
/// <param name="MaxCompletionTokens"><c>max_completion_tokens</c> (<c>max_output_tokens</c> in the Responses API), reasoning included.</param>
public sealed record OpenAiParameters(string ReasoningEffort, long MaxCompletionTokens) : ProviderParameters
{
    /// <inheritdoc />
    public override ModelFamily Family => ModelFamily.OpenAi;
}

/// <summary>Parameters of Gemini's <c>generationConfig</c>.</summary>
/// <param name="ThinkingBudget"><c>thinkingConfig.thinkingBudget</c> in tokens; 0 for a model that takes no thinking budget.</param>
/// <param name="MaxOutputTokens"><c>maxOutputTokens</c>, thinking included.</param>
public sealed record GeminiParameters(long ThinkingBudget, long MaxOutputTokens) : ProviderParameters
{
    /// <inheritdoc />
    public override ModelFamily Family => ModelFamily.Gemini;
}
