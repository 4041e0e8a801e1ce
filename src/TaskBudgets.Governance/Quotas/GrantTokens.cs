using System.Buffers.Text;
using System.Security.Cryptography;
using Google.Protobuf;

namespace TaskBudgets.Governance.Quotas;

/// <summary>
/// Signed, self-describing grant ids: any replica can settle a grant from its token alone,
/// and a forged or altered token is refused. The HMAC key is shared through the database.
/// </summary>
public sealed class GrantTokens
{
    private const string Prefix = "tbg1.";
    private const int MacBytes = 16;
    private byte[] key = [];

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

    public string Sign(GrantClaims claims)
    {
        ArgumentNullException.ThrowIfNull(claims);
        var payload = claims.ToByteArray();
        var mac = HMACSHA256.HashData(key, payload).AsSpan(0, MacBytes);
        return string.Concat(Prefix, Base64Url.EncodeToString(payload), ".", Base64Url.EncodeToString(mac));
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

        try
        {
            var payload = Base64Url.DecodeFromChars(body[..dot]);
            var mac = Base64Url.DecodeFromChars(body[(dot + 1)..]);
            var expected = HMACSHA256.HashData(key, payload);
            if (mac.Length != MacBytes || !CryptographicOperations.FixedTimeEquals(mac, expected.AsSpan(0, MacBytes)))
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
}
