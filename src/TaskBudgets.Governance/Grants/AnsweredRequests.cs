using System.Collections.Concurrent;

namespace TaskBudgets.Governance.Grants;

/// <summary>
/// The request ids this replica has answered, each with its grant until the grant expires: a
/// retried GetBudget gets the same grant, not a second reservation.
/// </summary>
public sealed class AnsweredRequests
{
    // A second is dropped this long after it passed, as the grant book drops its seconds.
    private const long RetainedSeconds = 10;

    private readonly ConcurrentDictionary<(string OrgId, string RequestId), Lazy<Task<IssuedGrant>>> requests = new();

    // The request ids answered, by the second their grant expires in: swept like the grants.
    private readonly ConcurrentDictionary<long, ConcurrentQueue<(string OrgId, string RequestId)>> byExpiry = new();

    /// <summary>The answer already given (or being given) to this request id, or a new one from <paramref name="issue"/>.</summary>
    public Task<IssuedGrant> GetOrIssue(string orgId, string requestId, Func<Task<IssuedGrant>> issue) =>
        requests.GetOrAdd((orgId, requestId), key => new Lazy<Task<IssuedGrant>>(() => RememberAsync(key, issue))).Value;

    /// <summary>Forgets a request id whose grant failed, so that a retry decides again.</summary>
    public void Forget(string orgId, string requestId) => requests.TryRemove((orgId, requestId), out _);

    /// <summary>Forgets the request ids whose grants expired by <paramref name="now"/>.</summary>
    public void SweepExpired(DateTimeOffset now)
    {
        var current = now.ToUnixTimeSeconds();
        foreach (var (second, keys) in byExpiry)
        {
            // Only seconds that have passed, whose grants have all expired: a queue is in no time
            // order within its second, so the current one waits for the next sweep.
            if (second >= current)
            {
                continue;
            }

            ForgetExpired(keys, now);
            if (second < current - RetainedSeconds && byExpiry.TryRemove(KeyValuePair.Create(second, keys)))
            {
                ForgetExpired(keys, now);
            }
        }
    }

    private async Task<IssuedGrant> RememberAsync((string OrgId, string RequestId) key, Func<Task<IssuedGrant>> issue)
    {
        var grant = await issue();
        byExpiry.GetOrAdd(grant.ExpiresAt.ToUnixTimeSeconds(), _ => new ConcurrentQueue<(string, string)>()).Enqueue(key);
        return grant;
    }

    private void ForgetExpired(ConcurrentQueue<(string OrgId, string RequestId)> keys, DateTimeOffset now)
    {
        while (keys.TryDequeue(out var key))
        {
            if (requests.TryGetValue(key, out var entry)
                && entry is { IsValueCreated: true, Value.IsCompletedSuccessfully: true }
                && entry.Value.Result.ExpiresAt <= now)
            {
                requests.TryRemove(KeyValuePair.Create(key, entry));
            }
        }
    }
}
