using System.Buffers.Text;
using System.Security.Cryptography;
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

    private const string Sealed = "aesgcm1.";
    private static readonly byte[] Purpose = "taskbudgets grant signing key"u8.ToArray();

    /// <summary>The key encryption key, or null when Grants:KeyEncryptionKey is not set.</summary>
    public static byte[]? EncryptionKey(GrantOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return options.KeyEncryptionKey.Length == 0 ? null : Decode(options.KeyEncryptionKey);
    }

    /// <summary>The stored form of a signing key: "aesgcm1." + base64(nonce, tag, ciphertext) under <paramref name="kek"/>, else base64.</summary>
    public static string Seal(byte[] key, byte[]? kek)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (kek is null)
        {
            return Convert.ToBase64String(key);
        }

        var sealedKey = new byte[AesGcm.NonceByteSizes.MaxSize + AesGcm.TagByteSizes.MaxSize + key.Length];
        var nonce = sealedKey.AsSpan(0, AesGcm.NonceByteSizes.MaxSize);
        RandomNumberGenerator.Fill(nonce);
        using var aes = new AesGcm(kek, AesGcm.TagByteSizes.MaxSize);
        aes.Encrypt(nonce, key, sealedKey.AsSpan(nonce.Length + AesGcm.TagByteSizes.MaxSize), sealedKey.AsSpan(nonce.Length, AesGcm.TagByteSizes.MaxSize), Purpose);
        return Sealed + Convert.ToBase64String(sealedKey);
    }

    /// <summary>Whether a stored signing key is encrypted.</summary>
    public static bool IsSealed(string stored) => stored is not null && stored.StartsWith(Sealed, StringComparison.Ordinal);

    /// <summary>The signing key from its stored form; a start-stopping line when it is encrypted and <paramref name="kek"/> is missing or wrong.</summary>
    public static byte[] Open(string stored, byte[]? kek)
    {
        ArgumentNullException.ThrowIfNull(stored);
        if (!IsSealed(stored))
        {
            return Convert.FromBase64String(stored);
        }

        if (kek is null)
        {
            throw new OptionsValidationException(GrantOptions.Section, typeof(GrantOptions), ["Grants:KeyEncryptionKey: the grant signing key in the database is encrypted; configure the key it was encrypted with."]);
        }

        var sealedKey = Convert.FromBase64String(stored[Sealed.Length..]);
        var nonceSize = AesGcm.NonceByteSizes.MaxSize;
        var tagSize = AesGcm.TagByteSizes.MaxSize;
        var key = new byte[sealedKey.Length - nonceSize - tagSize];
        try
        {
            using var aes = new AesGcm(kek, tagSize);
            aes.Decrypt(sealedKey.AsSpan(0, nonceSize), sealedKey.AsSpan(nonceSize + tagSize), sealedKey.AsSpan(nonceSize, tagSize), key, Purpose);
            return key;
        }
        catch (AuthenticationTagMismatchException)
        {
            throw new OptionsValidationException(GrantOptions.Section, typeof(GrantOptions), ["Grants:KeyEncryptionKey: it does not decrypt the grant signing key in the database (not the key it was encrypted with)."]);
        }
    }

    private static byte[] Decode(string text)
    {
        text = text.Trim();
        return text.Contains('+', StringComparison.Ordinal) || text.Contains('/', StringComparison.Ordinal) ? Convert.FromBase64String(text) : Base64Url.DecodeFromChars(text.TrimEnd('='));
    }

    private static (List<(string Id, byte[] Key)> Keys, string? Problem) Read(GrantOptions options)
    {
        if (options.KeyEncryptionKey.Length > 0)
        {
            try
            {
                if (Decode(options.KeyEncryptionKey).Length != 32)
                {
                    return ([], "Grants:KeyEncryptionKey must be base64 of exactly 32 bytes (`openssl rand -base64 32`).");
                }
            }
            catch (FormatException)
            {
                return ([], "Grants:KeyEncryptionKey must be base64 of exactly 32 bytes (`openssl rand -base64 32`).");
            }
        }

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
