using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;

namespace TaskBudgets.Governance.Auth;

/// <summary>
/// API key secrets: "tb_" (so secret scanners find leaked ones) and 32 random bytes in base64url.
/// Only their SHA-256 hash is stored.
/// </summary>
public static class ApiKeySecrets
{
    public const string Prefix = "tb_";

    /// <summary>The longest bearer value looked at; anything longer is not a key.</summary>
    public const int MaxLength = 512;

    public static string NewSecret() => Prefix + Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));

    /// <summary>A short public id for a new key, e.g. "key_3kq9x2mf7d4a".</summary>
    public static string NewKeyId()
    {
        const string Alphabet = "abcdefghijkmnpqrstuvwxyz23456789";
        Span<char> id = stackalloc char[12];
        for (var i = 0; i < id.Length; i++)
        {
            id[i] = Alphabet[RandomNumberGenerator.GetInt32(Alphabet.Length)];
        }

        return "key_" + new string(id);
    }

    /// <summary>Lower-case hex SHA-256 of the secret: what the database holds.</summary>
    public static string Hash(string secret)
    {
        ArgumentNullException.ThrowIfNull(secret);
        Span<byte> digest = stackalloc byte[SHA256.HashSizeInBytes];
        Digest(secret, digest);
        return HashText(digest);
    }

    /// <summary>The SHA-256 of the secret's UTF-8 into <paramref name="digest"/>, without allocating for a key-sized secret.</summary>
    public static void Digest(ReadOnlySpan<char> secret, Span<byte> digest)
    {
        const int StackBytes = (MaxLength + 1) * 3;
        var most = Encoding.UTF8.GetMaxByteCount(secret.Length);
        Span<byte> utf8 = most <= StackBytes ? stackalloc byte[StackBytes] : new byte[most];
        var length = Encoding.UTF8.GetBytes(secret, utf8);
        SHA256.HashData(utf8[..length], digest);
    }

    /// <summary>A digest as <see cref="Hash"/> writes it.</summary>
    public static string HashText(ReadOnlySpan<byte> digest) => Convert.ToHexStringLower(digest);
}
