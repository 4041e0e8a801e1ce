using Microsoft.Extensions.Options;

namespace TaskBudgets.Governance.Auth;

/// <summary>
/// Refuses a configured first admin key that is too weak (Auth:AdminKey, or the contents of
/// Auth:AdminKeyFile when it can be read), in one line naming the setting and never the key.
/// </summary>
public sealed class AuthOptionsValidation : IValidateOptions<AuthOptions>
{
    public ValidateOptionsResult Validate(string? name, AuthOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.AdminKey.Length > 0)
        {
            return Check("Auth:AdminKey", options.AdminKey.Trim());
        }

        return options.AdminKeyFile.Length > 0 && File.Exists(options.AdminKeyFile)
            ? Check($"Auth:AdminKeyFile ({options.AdminKeyFile})", File.ReadAllText(options.AdminKeyFile).Trim())
            : ValidateOptionsResult.Success;
    }

    /// <summary>The failure for a weak key given by <paramref name="setting"/>, or success.</summary>
    public static ValidateOptionsResult Check(string setting, string key) =>
        Problem(setting, key) is { } problem ? ValidateOptionsResult.Fail(problem) : ValidateOptionsResult.Success;

    /// <summary>The one-line message for a weak key given by <paramref name="setting"/>, or null.</summary>
    public static string? Problem(string setting, string key) =>
        ApiKeySecrets.Weakness(key) is { } weakness
            ? $"{setting}: the admin key is too weak ({weakness}); use 32 random bytes, e.g. `openssl rand -base64 32`, or leave it unset to have one generated."
            : null;
}
