using System.Buffers;
using System.Buffers.Text;
using System.Security.Cryptography;
using Google.Protobuf;
using TaskBudgets.Governance.Quotas;

namespace TaskBudgets.Governance.Grants;

/// <summary>
/// Signed, self-describing grant ids: any replica can settle a grant from its token alone,
/// and a forged or altered token is refused. The claims carry the id of the key that signed them
/// (signed along with them): one key signs, every key given verifies, so keys rotate without
/// downtime. The key of id "" is the one the database holds, which signed every token before ids.
/// </summary>
public sealed class GrantTokens
{
    private const string Prefix = "tbg1.";
    private const int MacBytes = 16;
    private const int StackLimit = 1024;
    private byte[] key = [];
    private string keyId = string.Empty;
    private Dictionary<string, byte[]> verifying = new Dictionary<string, byte[]>();
    private (byte[] Key, DateTimeOffset Until, TimeProvider Time)? stored;

    // A keyed HMAC per thread, reset rather than re-keyed for each token: the one-shot API sets
    // the key up on every call, a large part of signing a token this small.
    [ThreadStatic]
    private static (byte[] Key, IncrementalHash Hmac)? hmac;

    public bool HasKey => key.Length > 0;

    /// <summary>Signs and verifies with one key of id "" (the key the database holds).</summary>
    public void UseKey(byte[] signingKey) => UseKeys([(string.Empty, signingKey)]);

    /// <summary>The first key signs, every key verifies the tokens that carry its id.</summary>
    public void UseKeys(IReadOnlyList<(string Id, byte[] Key)> keys)
    {
        ArgumentNullException.ThrowIfNull(keys);
        if (keys.Count == 0 || keys.Any(k => k.Key is null || k.Key.Length < 32))
        {
            throw new ArgumentException("Grant signing keys have at least 32 bytes each, and there is at least one.", nameof(keys));
        }

        verifying = keys.ToDictionary(k => k.Id, k => k.Key, StringComparer.Ordinal);
        keyId = keys[0].Id;
        key = keys[0].Key;
    }

    /// <summary>
    /// Also verifies tokens of id "" with the key the database holds, until <paramref name="until"/>:
    /// the grants signed before keys were configured, which have all expired by then.
    /// </summary>
    public void AlsoVerifyStoredKey(byte[] storedKey, DateTimeOffset until, TimeProvider time) => stored = (storedKey, until, time);

    /// <summary>The id of the key that signs.</summary>
    public string SigningKeyId => keyId;

    /// <summary>
    /// The token for <paramref name="claims"/>: "tbg1." + base64url(claims) + "." + base64url(mac).
    /// Built in one string, the claims serialised and signed in a stack or pooled buffer, because
    /// every GetBudget signs one.
    /// </summary>
    public string Sign(GrantClaims claims)
    {
        ArgumentNullException.ThrowIfNull(claims);
        claims.KeyId = keyId;
        var size = claims.CalculateSize();
        var rented = size > StackLimit ? ArrayPool<byte>.Shared.Rent(size) : null;
        try
        {
            var payload = rented is null ? stackalloc byte[StackLimit] : rented;
            payload = payload[..size];
            claims.WriteTo(payload);
            Span<byte> hash = stackalloc byte[HMACSHA256.HashSizeInBytes];
            Mac(key, payload, hash);
            var mac = hash[..MacBytes];
            var length = Prefix.Length + Base64Url.GetEncodedLength(size) + 1 + Base64Url.GetEncodedLength(MacBytes);
            var rentedChars = length > StackLimit ? ArrayPool<char>.Shared.Rent(length) : null;
            var chars = rentedChars is null ? stackalloc char[StackLimit] : rentedChars;
            Prefix.AsSpan().CopyTo(chars);
            var at = Prefix.Length;
            at += Base64Url.EncodeToChars(payload, chars[at..]);
            chars[at++] = '.';
            at += Base64Url.EncodeToChars(mac, chars[at..]);
            var token = new string(chars[..at]);
            if (rentedChars is not null)
            {
                ArrayPool<char>.Shared.Return(rentedChars);
            }

            return token;
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    /// <summary>The claims of a genuine token, or null for anything else.</summary>
    public GrantClaims? Verify(string token)
    {
        if (key.Length == 0 || token is null || !token.StartsWith(Prefix, StringComparison.Ordinal) || token.Length > 4096)
        {
            return null;
        }

        var body = token.AsSpan(Prefix.Length);
        var dot = body.IndexOf('.');
        if (dot <= 0)
        {
            return null;
        }

        var encoded = body[..dot];
        var encodedMac = body[(dot + 1)..];
        if (encoded.Length > 4096 || Base64Url.GetMaxDecodedLength(encodedMac.Length) > HMACSHA256.HashSizeInBytes)
        {
            return null;
        }

        try
        {
            // Decoded and checked in stack buffers (a token is at most 4 KB): ReportUsage verifies one per call.
            Span<byte> buffer = stackalloc byte[Base64Url.GetMaxDecodedLength(4096)];
            if (!Base64Url.TryDecodeFromChars(encoded, buffer, out var payloadLength))
            {
                return null;
            }

            var payload = buffer[..payloadLength];
            Span<byte> mac = stackalloc byte[HMACSHA256.HashSizeInBytes];
            Span<byte> expected = stackalloc byte[HMACSHA256.HashSizeInBytes];
            if (!Base64Url.TryDecodeFromChars(encodedMac, mac, out var macLength) || macLength != MacBytes)
            {
                return null;
            }

            // Only the exact form Sign writes: the decoder skips whitespace and ignores a last
            // character's spare bits, so "id ", "id\t..." and other spellings would decode to the
            // same grant. Any other spelling is a grant that does not exist.
            if (!Canonical(encoded, payload) || !Canonical(encodedMac, mac[..MacBytes]))
            {
                return null;
            }

            // The key id is read before the MAC is checked, and only picks the key it is checked with.
            var claims = GrantClaims.Parser.ParseFrom(payload);
            if (VerifyingKey(claims.KeyId) is not { } verifyingKey)
            {
                return null;
            }

            Mac(verifyingKey, payload, expected);
            if (!CryptographicOperations.FixedTimeEquals(mac[..MacBytes], expected[..MacBytes]))
            {
                return null;
            }

            return claims.GrantId.Length == 16 ? claims : null;
        }
        catch (FormatException)
        {
            return null;
        }
        catch (InvalidProtocolBufferException)
        {
            return null;
        }
    }

    private byte[]? VerifyingKey(string id)
    {
        if (verifying.TryGetValue(id, out var found))
        {
            return found;
        }

        return id.Length == 0 && stored is { } legacy && legacy.Time.GetUtcNow() < legacy.Until ? legacy.Key : null;
    }

    /// <summary>Whether <paramref name="text"/> is exactly how Base64Url writes <paramref name="bytes"/>.</summary>
    private static bool Canonical(ReadOnlySpan<char> text, ReadOnlySpan<byte> bytes)
    {
        if (text.Length != Base64Url.GetEncodedLength(bytes.Length))
        {
            return false;
        }

        Span<char> written = stackalloc char[Base64Url.GetEncodedLength(4096)];
        var length = Base64Url.EncodeToChars(bytes, written);
        return text.SequenceEqual(written[..length]);
    }

    private static void Mac(byte[] current, ReadOnlySpan<byte> payload, Span<byte> destination)
    {
        if (hmac is not { } cached || !ReferenceEquals(cached.Key, current))
        {
            hmac?.Hmac.Dispose();
            cached = (current, IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, current));
            hmac = cached;
        }

        cached.Hmac.AppendData(payload);
        cached.Hmac.GetHashAndReset(destination);
    }
}
