namespace TaskBudgets.Policies;

/// <summary>A model's provider family.</summary>
public enum PolicyFamily
{
    Anthropic = 1,
    OpenAi = 2,
    Gemini = 3,
}

/// <summary>How a model is told how much to think.</summary>
public enum PolicyThinking
{
    /// <summary>A thinking budget in tokens.</summary>
    Budget = 1,

    /// <summary>An effort level only.</summary>
    Effort = 2,
}

/// <summary>A rule's reasoning effort.</summary>
public enum PolicyEffort
{
    Low = 1,
    Medium = 2,
    High = 3,
    Max = 4,
}

/// <summary>Whom a quota counts: the whole org, each (or one) project, or each (or one) principal.</summary>
public enum PolicyScope
{
    Org = 1,
    Project = 2,
    Principal = 3,
}

/// <summary>What a quota counts.</summary>
public enum PolicyMetric
{
    ReasoningTokens = 1,
    OutputTokens = 2,
    TotalTokens = 3,
    Requests = 4,
    CostMicros = 5,
}

/// <summary>The window a quota counts over.</summary>
public enum PolicyWindow
{
    Minute = 1,
    Hour = 2,
    Day = 3,
    Month = 4,
}

/// <summary>
/// The names the policy file gives the vocabulary; null for a name it does not have. The admin
/// API's enums are turned into these names before they are checked, so both paths report an
/// unknown value alike.
/// </summary>
public static class PolicyVocabulary
{
    public static PolicyFamily? Family(string name) => name switch
    {
        "anthropic" => PolicyFamily.Anthropic,
        "openai" => PolicyFamily.OpenAi,
        "gemini" => PolicyFamily.Gemini,
        _ => null,
    };

    public static PolicyThinking? Thinking(string name) => name switch
    {
        "budget" => PolicyThinking.Budget,
        "effort" => PolicyThinking.Effort,
        _ => null,
    };

    public static PolicyEffort? Effort(string name) => name switch
    {
        "low" => PolicyEffort.Low,
        "medium" => PolicyEffort.Medium,
        "high" => PolicyEffort.High,
        "max" => PolicyEffort.Max,
        _ => null,
    };

    public static PolicyScope? Scope(string name) => name switch
    {
        "org" => PolicyScope.Org,
        "project" => PolicyScope.Project,
        "principal" => PolicyScope.Principal,
        _ => null,
    };

    public static PolicyMetric? Metric(string name) => name switch
    {
        "reasoning_tokens" => PolicyMetric.ReasoningTokens,
        "output_tokens" => PolicyMetric.OutputTokens,
        "total_tokens" => PolicyMetric.TotalTokens,
        "requests" => PolicyMetric.Requests,
        "cost_micros" => PolicyMetric.CostMicros,
        _ => null,
    };

    public static PolicyWindow? Window(string name) => name switch
    {
        "minute" => PolicyWindow.Minute,
        "hour" => PolicyWindow.Hour,
        "day" => PolicyWindow.Day,
        "month" => PolicyWindow.Month,
        _ => null,
    };

    /// <summary>The effort's name in the file; an undefined value shows as its number.</summary>
    public static string Name(PolicyEffort effort) => effort switch
    {
        PolicyEffort.Low => "low",
        PolicyEffort.Medium => "medium",
        PolicyEffort.High => "high",
        PolicyEffort.Max => "max",
        _ => ((int)effort).ToString(System.Globalization.CultureInfo.InvariantCulture),
    };
}
