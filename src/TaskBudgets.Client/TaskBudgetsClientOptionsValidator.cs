using Microsoft.Extensions.Options;

namespace TaskBudgets.Client;

/// <summary>Checks <see cref="TaskBudgetsClientOptions"/> when the host starts, naming each bad setting.</summary>
internal sealed class TaskBudgetsClientOptionsValidator : IValidateOptions<TaskBudgetsClientOptions>
{
    public ValidateOptionsResult Validate(string? name, TaskBudgetsClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        const string S = TaskBudgetsClientOptions.Section;
        if (options.Address is null)
        {
            failures.Add($"{S}:Address is required (the service's gRPC address, e.g. http://taskbudgets:8080).");
        }
        else if (!options.Address.IsAbsoluteUri || (options.Address.Scheme != Uri.UriSchemeHttp && options.Address.Scheme != Uri.UriSchemeHttps))
        {
            failures.Add($"{S}:Address must be an absolute http or https address, not '{options.Address}'.");
        }

        if (options.ApiKey is not null && (options.ApiKey.Length == 0 || options.ApiKey.Any(c => char.IsWhiteSpace(c) || char.IsControl(c))))
        {
            failures.Add($"{S}:ApiKey must be non-empty and hold no spaces or control characters (or be left unset).");
        }

        if (options.OrgId is not null && string.IsNullOrWhiteSpace(options.OrgId))
        {
            failures.Add($"{S}:OrgId must not be blank (or be left unset).");
        }

        if (options.Deadline < TimeSpan.FromMilliseconds(1) || options.Deadline > TimeSpan.FromMinutes(5))
        {
            failures.Add($"{S}:Deadline must be between 1 ms and 5 minutes, not {options.Deadline}.");
        }

        if (options.MaxRetries is < 0 or > 10)
        {
            failures.Add($"{S}:MaxRetries must be between 0 and 10, not {options.MaxRetries}.");
        }

        if (options.InitialBackoff < TimeSpan.Zero || options.InitialBackoff > TimeSpan.FromMinutes(1))
        {
            failures.Add($"{S}:InitialBackoff must be between 0 and 1 minute, not {options.InitialBackoff}.");
        }

        if (options.MaxBackoff < options.InitialBackoff || options.MaxBackoff > TimeSpan.FromMinutes(1))
        {
            failures.Add($"{S}:MaxBackoff must be between InitialBackoff and 1 minute, not {options.MaxBackoff}.");
        }

        var fallback = options.Fallback;
        if (fallback is null)
        {
            failures.Add($"{S}:Fallback must not be null.");
        }
        else
        {
            if (!Enum.IsDefined(fallback.Mode))
            {
                failures.Add($"{S}:Fallback:Mode must be FailClosed or FailOpen.");
            }

            if (fallback.MaxOutputTokens is < 1 or > 1_000_000)
            {
                failures.Add($"{S}:Fallback:MaxOutputTokens must be between 1 and 1000000, not {fallback.MaxOutputTokens}.");
            }

            if (fallback.ReasoningTokens < 0 || fallback.ReasoningTokens > fallback.MaxOutputTokens)
            {
                failures.Add($"{S}:Fallback:ReasoningTokens must be between 0 and Fallback:MaxOutputTokens, not {fallback.ReasoningTokens}.");
            }

            if (fallback.Effort is Effort.Unspecified || !Enum.IsDefined(fallback.Effort))
            {
                failures.Add($"{S}:Fallback:Effort must be Low, Medium, High or Max.");
            }
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
