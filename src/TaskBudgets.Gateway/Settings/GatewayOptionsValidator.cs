using Microsoft.Extensions.Options;

namespace TaskBudgets.Gateway.Settings;

/// <summary>Refuses a configuration the gateway cannot serve, with one line per setting at fault.</summary>
public sealed class GatewayOptionsValidator : IValidateOptions<GatewayOptions>
{
    public ValidateOptionsResult Validate(string? name, GatewayOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        if (options.Port is < 1 or > 65535)
        {
            failures.Add($"Gateway:Port must be 1..65535 (it is {options.Port}).");
        }

        if (options.MaxRequestBodyBytes is < 1024 or > 64 * 1024 * 1024)
        {
            failures.Add($"Gateway:MaxRequestBodyBytes must be 1024..67108864 (it is {options.MaxRequestBodyBytes}).");
        }

        if (options.MaxMeteredResponseBytes is < 64 * 1024 or > 256 * 1024 * 1024)
        {
            failures.Add($"Gateway:MaxMeteredResponseBytes must be 65536..268435456 (it is {options.MaxMeteredResponseBytes}).");
        }

        if (options.UpstreamIdleTimeout < TimeSpan.FromSeconds(1) || options.UpstreamIdleTimeout > TimeSpan.FromHours(1))
        {
            failures.Add($"Gateway:UpstreamIdleTimeout must be 00:00:01..01:00:00 (it is {options.UpstreamIdleTimeout}).");
        }

        CheckDefaults("Gateway:Defaults", options.Defaults, failures);
        for (var i = 0; i < options.Keys.Count; i++)
        {
            var key = options.Keys[i];
            if (key.KeySha256.Length != 64 || !key.KeySha256.All(Uri.IsHexDigit))
            {
                failures.Add($"Gateway:Keys:{i}:KeySha256 must be the SHA-256 of a key as 64 hex digits.");
            }

            CheckDefaults($"Gateway:Keys:{i}:Defaults", key.Defaults, failures);
        }

        CheckRoute("Anthropic", options.Anthropic, failures);
        CheckRoute("OpenAi", options.OpenAi, failures);
        CheckRoute("Gemini", options.Gemini, failures);
        if (!options.Anthropic.Enabled && !options.OpenAi.Enabled && !options.Gemini.Enabled)
        {
            failures.Add("Gateway: every route is disabled (Gateway:Anthropic:Enabled, Gateway:OpenAi:Enabled, Gateway:Gemini:Enabled); enable at least one.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static void CheckRoute(string name, ProviderRouteOptions route, List<string> failures)
    {
        if (!route.Enabled)
        {
            return;
        }

        if (route.UpstreamBaseUrl is not { IsAbsoluteUri: true } url || (url.Scheme != Uri.UriSchemeHttp && url.Scheme != Uri.UriSchemeHttps))
        {
            failures.Add($"Gateway:{name}:UpstreamBaseUrl must be an absolute http or https URL.");
        }

        if (route.ApiKeyFile is { Length: > 0 } file)
        {
            if (!File.Exists(file))
            {
                failures.Add($"Gateway:{name}:ApiKeyFile names a file that does not exist: {file}.");
            }
        }
        else if (string.IsNullOrWhiteSpace(route.ApiKey))
        {
            failures.Add($"Gateway:{name}: set the provider credential in Gateway:{name}:ApiKeyFile (a mounted secret) or Gateway:{name}:ApiKey, or set Gateway:{name}:Enabled=false.");
        }

        CheckDefaults($"Gateway:{name}:Defaults", route.Defaults, failures);
    }

    private static void CheckDefaults(string path, CallDefaults defaults, List<string> failures)
    {
        if (defaults.Complexity is < 0 or > 1)
        {
            failures.Add($"{path}:Complexity must be 0..1 (it is {defaults.Complexity}).");
        }

        if (defaults.Phase is { } phase && CallDefaults.ParsePhase(phase) is null)
        {
            failures.Add($"{path}:Phase must be standard, preliminary or deep (it is '{phase}').");
        }
    }
}
