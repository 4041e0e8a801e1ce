using System.Buffers;
using System.Buffers.Text;
using System.Security.Cryptography;
using Google.Protobuf;
using TaskBudgets.Governance.Quotas;

namespace TaskBudgets.Governance.Grants;

/// <summary>
/// Signed, self-describing grant ids: any replica can settle a grant from its token alone,
/// and a forged or altered token is refused. The HMAC key is shared through the database.
/// </summary>
public sealed class GrantTokens
{
    private const string Prefix = "tbg1.";
    private const int MacBytes = 16;
    private const int StackLimit = 1024;
    private byte[] key = [];

    // A keyed HMAC per thread, reset rather than re-keyed for each token: the one-shot API sets
    // the key up on every call, a large part of signing a token this small.
    [ThreadStatic]
    private static (byte[] Key, IncrementalHash Hmac)? hmac;

    public bool HasKey => key.Length > 0;

    public void UseKey(byte[] signingKey)
    {
        ArgumentNullException.ThrowIfNull(signingKey);
        if (signingKey.Length < 32)
        {
            throw new ArgumentException("A grant signing key has at least 32 bytes.", nameof(signingKey));
        }

        key = signingKey;
    }

    /// <summary>
    /// The token for <paramref name="claims"/>: "tbg1." + base64url(claims) + "." + base64url(mac).
    /// Built in one string, the claims serialised and signed in a stack or pooled buffer, because
    /// every GetBudget signs one.
    /// </summary>
    public string Sign(GrantClaims claims)
    {
        ArgumentNullException.ThrowIfNull(claims);
        var size = claims.CalculateSize();
        var rented = size > StackLimit ? ArrayPool<byte>.Shared.Rent(size) : null;
        try
        {
            var payload = rented is null ? stackalloc byte[StackLimit] : rented;
            payload = payload[..size];
            claims.WriteTo(payload);
            Span<byte> hash = stackalloc byte[HMACSHA256.HashSizeInBytes];
            Mac(payload, hash);
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

            Mac(payload, expected);
            if (!CryptographicOperations.FixedTimeEquals(mac[..MacBytes], expected[..MacBytes]))
            {
                return null;
            }

            var claims = GrantClaims.Parser.ParseFrom(payload);
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

    private void Mac(ReadOnlySpan<byte> payload, Span<byte> destination)
    {
        var current = key;
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
