using System.Security.Cryptography;
using Google.Protobuf;
using TaskBudgets.Governance.Grants;
using TaskBudgets.Governance.Quotas;

namespace TaskBudgets.Governance.Tests.Quotas;

public class GrantTokensTests
{
    private static GrantTokens WithKey(byte[] key)
    {
        var tokens = new GrantTokens();
        tokens.UseKey(key);
        return tokens;
    }

    private static GrantClaims Claims() => new()
    {
        GrantId = ByteString.CopyFrom(Guid.NewGuid().ToByteArray()),
        OrgId = "demo",
        ReasoningTokens = 4096,
        Reservations = { new ReservationClaim { QuotaId = "q", Amount = 4096, Metric = 1 } },
    };

    [Fact]
    public void A_signed_token_verifies_to_its_claims_on_any_replica_with_the_shared_key()
    {
        var key = RandomNumberGenerator.GetBytes(32);
        var claims = Claims();

        var token = WithKey(key).Sign(claims);

        Assert.StartsWith("tbg1.", token, StringComparison.Ordinal);
        Assert.Equal(claims, WithKey(key).Verify(token));
    }

    [Fact]
    public void The_attempt_and_the_budget_the_previous_attempt_exceeded_survive_signing()
    {
        var key = RandomNumberGenerator.GetBytes(32);
        var claims = Claims();
        claims.Attempt = 3;
        claims.PreviousReasoningTokens = 8_192;

        var verified = WithKey(key).Verify(WithKey(key).Sign(claims));

        Assert.NotNull(verified);
        Assert.Equal(3, verified.Attempt);
        Assert.Equal(8_192, verified.PreviousReasoningTokens);
    }

    [Fact]
    public void Altered_forged_or_foreign_tokens_are_refused()
    {
        var key = RandomNumberGenerator.GetBytes(32);
        var tokens = WithKey(key);
        var token = tokens.Sign(Claims());
        var forged = WithKey(RandomNumberGenerator.GetBytes(32)).Sign(Claims());
        var body = token[5..token.IndexOf('.', 5)];
        var altered = token.Replace(body, body[..^2] + (body[^2] == 'A' ? "B" : "A") + body[^1], StringComparison.Ordinal);

        Assert.Null(tokens.Verify(forged));
        Assert.Null(tokens.Verify(altered));
        Assert.Null(tokens.Verify("tbg1.not-base64!.x"));
        Assert.Null(tokens.Verify(string.Empty));
        Assert.Null(tokens.Verify("grant-123"));
        Assert.Null(tokens.Verify(token + "AA"));
    }
}
