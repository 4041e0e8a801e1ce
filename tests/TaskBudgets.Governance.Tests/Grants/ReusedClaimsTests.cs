using Microsoft.Extensions.DependencyInjection;
using TaskBudgets.Governance.Budgeting;
using TaskBudgets.Governance.Grants;
using TaskBudgets.Governance.Tests.Infrastructure;

namespace TaskBudgets.Governance.Tests.Grants;

/// <summary>
/// A thread signs every grant it issues from the same claims object: nothing of one grant's
/// claims (a complexity hint, a retry's previous budget, a third reservation) may reach the next
/// grant's token.
/// </summary>
public sealed class ReusedClaimsTests : AppTests
{
    [Fact]
    public void A_grant_signed_after_another_on_the_same_thread_carries_only_its_own_claims()
    {
        var issuer = App.Services.GetRequiredService<GrantIssuer>();
        var tokens = App.Services.GetRequiredService<GrantTokens>();
        var hinted = new GrantRequest("acme", "web", "alice", "classification", "claude-test", Features(0.7, 5_000) with { Attempt = 2, PreviousAttemptTruncated = true, PreviousReasoningTokens = 4_096 }, string.Empty, string.Empty);
        var plain = new GrantRequest("small", string.Empty, string.Empty, "classification", "claude-test", Features(null, 0), string.Empty, string.Empty);

        // Grants served from leases complete on the calling thread, so each pair shares the claims.
        for (var i = 0; i < 20; i++)
        {
            var first = tokens.Verify(Issue(issuer, hinted))!;
            var second = tokens.Verify(Issue(issuer, plain))!;

            Assert.True(first.HasComplexity);
            Assert.Equal(0.7, first.Complexity);
            Assert.Equal(3, first.Reservations.Count);
            Assert.Equal("alice", first.PrincipalId);
            Assert.Equal((2, 4_096L), (first.Attempt, first.PreviousReasoningTokens));

            Assert.False(second.HasComplexity);
            Assert.Equal("small", second.OrgId);
            Assert.Equal(string.Empty, second.PrincipalId);
            Assert.Equal(string.Empty, second.ProjectId);
            Assert.Equal(0, second.EstimatedInputTokens);
            Assert.Equal((1, 0L), (second.Attempt, second.PreviousReasoningTokens));
            var reservation = Assert.Single(second.Reservations);
            Assert.Equal(string.Empty, reservation.Subject);
            Assert.DoesNotContain(first.Reservations, r => r.QuotaId == reservation.QuotaId);
            Assert.Contains(first.Reservations, r => r.Subject == "alice");
            Assert.NotEqual(first.GrantId, second.GrantId);
        }
    }

    private static CallFeatures Features(double? complexity, long input) =>
        new(complexity, input, 1, false, CallPhase.Standard, CallPriority.Normal);

    private static string Issue(GrantIssuer issuer, GrantRequest request) =>
        issuer.IssueAsync(request, CancellationToken.None).AsTask().GetAwaiter().GetResult().Grant.Token;
}
