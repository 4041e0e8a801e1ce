using TaskBudgets.Governance.Budgeting;
using TaskBudgets.Governance.Grants;

namespace TaskBudgets.Governance.Tests.Grants;

public sealed class AnsweredRequestsTests
{
    private static readonly DateTimeOffset Start = DateTimeOffset.FromUnixTimeSeconds(1_800_000_000);

    [Fact]
    public async Task A_request_id_replays_its_grant_until_the_grant_expires_and_is_then_forgotten()
    {
        var answered = new AnsweredRequests();
        var issued = 0;
        Task<IssuedGrant> Issue()
        {
            issued++;
            return Task.FromResult(new IssuedGrant("token-" + issued, Start.AddSeconds(2), default, default, "tier", new TierRule { TaskType = "*" }, 1, []));
        }

        var first = await answered.GetOrIssue("org", "rq-1", Issue);
        var replayed = await answered.GetOrIssue("org", "rq-1", Issue);
        answered.SweepExpired(Start.AddSeconds(1));
        var stillReplayed = await answered.GetOrIssue("org", "rq-1", Issue);
        answered.SweepExpired(Start.AddSeconds(3));
        var afresh = await answered.GetOrIssue("org", "rq-1", Issue);

        Assert.Same(first, replayed);
        Assert.Same(first, stillReplayed);
        Assert.Equal("token-2", afresh.Token);
        Assert.Equal(2, issued);
    }

    [Fact]
    public async Task A_forgotten_request_id_is_decided_again()
    {
        var answered = new AnsweredRequests();
        var issued = 0;
        Task<IssuedGrant> Issue() =>
            Task.FromResult(new IssuedGrant("token-" + ++issued, Start.AddSeconds(2), default, default, "tier", new TierRule { TaskType = "*" }, 1, []));

        await answered.GetOrIssue("org", "rq-1", Issue);
        answered.Forget("org", "rq-1");
        var again = await answered.GetOrIssue("org", "rq-1", Issue);
        var otherOrg = await answered.GetOrIssue("other", "rq-1", Issue);

        Assert.Equal("token-2", again.Token);
        Assert.Equal("token-3", otherOrg.Token);
    }
}
