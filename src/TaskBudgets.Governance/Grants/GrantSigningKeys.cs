using System.Buffers.Text;
using System.Text.Json;
using Microsoft.Extensions.Options;

namespace TaskBudgets.Governance.Grants;

/// <summary>
/// The configured grant signing keys (Grants:SigningKeys, else the file Grants:SigningKeysFile), checked
/// at start: each id 1 to 32 of [A-Za-z0-9._-] and used once, each key base64 of at least 32 bytes.
/// </summary>
public sealed class GrantSigningKeys : IValidateOptions<GrantOptions>
{
    private static readonly JsonSerializerOptions Json = new() { PropertyNameCaseInsensitive = true };

    /// <summary>The keys in their order (the first signs), or an empty list when none are configured.</summary>
    public static IReadOnlyList<(string Id, byte[] Key)> Configured(GrantOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var (keys, problem) = Read(options);
        return problem is null ? keys : throw new OptionsValidationException(GrantOptions.Section, typeof(GrantOptions), [problem]);
    }

    public ValidateOptionsResult Validate(string? name, GrantOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return Read(options).Problem is { } problem ? ValidateOptionsResult.Fail(problem) : ValidateOptionsResult.Success;
    }

    private static (List<(string Id, byte[] Key)> Keys, string? Problem) Read(GrantOptions options)
    {
        var given = options.SigningKeys;
        var setting = "Grants:SigningKeys";
        if (given.Count == 0 && options.SigningKeysFile.Length > 0)
        {
            setting = $"Grants:SigningKeysFile ({options.SigningKeysFile})";
            try
            {
                given = JsonSerializer.Deserialize<List<GrantSigningKey>>(File.ReadAllText(options.SigningKeysFile), Json) ?? [];
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
            {
                return ([], $"{setting}: cannot be read as a JSON list of {{\"Id\", \"Key\"}}: {e.GetType().Name}.");
            }

            if (given.Count == 0)
            {
                return ([], $"{setting}: holds no keys.");
            }
        }

        var keys = new List<(string Id, byte[] Key)>();
        for (var i = 0; i < given.Count; i++)
        {
            var id = given[i].Id ?? string.Empty;
            if (id.Length is 0 or > 32 || !id.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-'))
            {
                return ([], $"{setting}:{i}:Id must be 1 to 32 letters, digits, '.', '_' or '-'.");
            }

            if (keys.Any(k => k.Id == id))
            {
                return ([], $"{setting}:{i}:Id '{id}' is used twice.");
            }

            var text = (given[i].Key ?? string.Empty).Trim();
            byte[] key;
            try
            {
                key = text.Contains('+', StringComparison.Ordinal) || text.Contains('/', StringComparison.Ordinal) ? Convert.FromBase64String(text) : Base64Url.DecodeFromChars(text.TrimEnd('='));
            }
            catch (FormatException)
            {
                return ([], $"{setting}:{i}:Key (id '{id}') is not base64.");
            }

            if (key.Length < 32)
            {
                return ([], $"{setting}:{i}:Key (id '{id}') has {key.Length} bytes; a signing key has at least 32 (`openssl rand -base64 32`).");
            }

            keys.Add((id, key));
        }

        return (keys, null);
    }
}
