using TaskBudgets.Governance.Budgeting;

namespace TaskBudgets.Governance.Tests.Budgeting;

public class ProviderParametersTests
{
    private static readonly BudgetDecision Decision = new()
    {
        ReasoningTokens = 4096,
        MaxOutputTokens = 8192,
        Effort = ReasoningEffort.Max,
        TaskBudgetTokens = 30000,
    };

    [Fact]
    public void Anthropic_manual_thinking_gets_a_budget_below_max_tokens()
    {
        var model = new ModelSpec { Name = "c", Family = ModelFamily.Anthropic, Thinking = ThinkingMode.Budget };

        var p = ProviderParameters.For(model, Decision, 50000);

        Assert.Equal(8192, p.MaxTokens);
        Assert.Equal(4096, p.ThinkingBudget);
        Assert.True(p.ThinkingBudget < p.MaxTokens);
        Assert.Equal("max", p.Effort);
        Assert.Equal(50000, p.TaskBudgetTotal);
        Assert.Equal(30000, p.TaskBudgetRemaining);
    }

    [Fact]
    public void Anthropic_adaptive_thinking_gets_effort_and_no_budget()
    {
        var model = new ModelSpec { Name = "c", Family = ModelFamily.Anthropic, Thinking = ThinkingMode.Effort };

        var p = ProviderParameters.For(model, Decision, 0);

        Assert.Equal(0, p.ThinkingBudget);
        Assert.Equal("max", p.Effort);
    }

    [Theory]
    [InlineData(ReasoningEffort.Low, "low")]
    [InlineData(ReasoningEffort.Medium, "medium")]
    [InlineData(ReasoningEffort.High, "high")]
    [InlineData(ReasoningEffort.Max, "high")]
    public void OpenAi_gets_reasoning_effort_and_max_completion_tokens(ReasoningEffort effort, string expected)
    {
        var model = new ModelSpec { Name = "o", Family = ModelFamily.OpenAi, Thinking = ThinkingMode.Effort };

        var p = ProviderParameters.For(model, Decision with { Effort = effort }, 0);

        Assert.Equal(expected, p.Effort);
        Assert.Equal(8192, p.MaxTokens);
        Assert.Equal(0, p.ThinkingBudget);
    }

    [Fact]
    public void Gemini_gets_a_thinking_budget_and_max_output_tokens()
    {
        var model = new ModelSpec { Name = "g", Family = ModelFamily.Gemini, Thinking = ThinkingMode.Budget };

        var p = ProviderParameters.For(model, Decision, 0);

        Assert.Equal(4096, p.ThinkingBudget);
        Assert.Equal(8192, p.MaxTokens);
    }

    [Fact]
    public void Cost_rounds_up_and_saturates()
    {
        var model = new ModelSpec { Name = "m", Family = ModelFamily.OpenAi, Thinking = ThinkingMode.Effort, InputMicrosPerMillion = 3_000_000, CachedInputMicrosPerMillion = 300_000, CacheWriteMicrosPerMillion = 3_750_000, OutputMicrosPerMillion = 15_000_000 };

        Assert.Equal(3, model.CostMicros(1, 0, 0, 0));
        Assert.Equal(1, model.CostMicros(0, 1, 0, 0));
        Assert.Equal(4, model.CostMicros(0, 0, 1, 0));
        Assert.Equal(15_000_000, model.CostMicros(0, 0, 0, 1_000_000));
        Assert.Equal(long.MaxValue, model.CostMicros(long.MaxValue, long.MaxValue, 0, long.MaxValue));
        Assert.Equal(1000, model.OutputTokensAffordable(15_000 + 3, 1));
    }
}
