using System.Collections.Concurrent;
using TaskBudgets.Governance.Telemetry;

namespace TaskBudgets.Governance.Quotas;

/// <summary>A grant this replica issued whose reservations are still held.</summary>
public sealed class ActiveGrant(Guid id, DateTimeOffset expiresAt, QuotaBucket[] buckets, long[] amounts)
{
    public Guid Id { get; } = id;

    public DateTimeOffset ExpiresAt { get; } = expiresAt;

    public QuotaBucket[] Buckets { get; } = buckets;

    public long[] Amounts { get; } = amounts;

    public void ReleaseAll()
    {
        for (var i = 0; i < Buckets.Length; i++)
        {
            Buckets[i].Release(Amounts[i]);
        }
    }
}

/// <summary>
/// The grants this replica holds reservations for, and the request ids it has answered.
/// Every grant leaves exactly once: settled, released or expired (whoever removes it frees it).
/// </summary>
public sealed class GrantBook(GovernanceMetrics metrics)
{
    private readonly ConcurrentDictionary<Guid, ActiveGrant> active = new();
    private readonly ConcurrentDictionary<(string OrgId, string RequestId), RequestEntry> requests = new();

    public int ActiveCount => active.Count;

    public void Add(ActiveGrant grant) => active[grant.Id] = grant;

    /// <summary>Removes the grant if it is still held; the caller then owns its reservations.</summary>
    public ActiveGrant? TryTake(Guid grantId) => active.TryRemove(grantId, out var grant) ? grant : null;

    /// <summary>The answer already given (or being given) to this request id, or a new one from <paramref name="issue"/>.</summary>
    public Task<IssuedGrant> GetOrIssue(string orgId, string requestId, Func<Task<IssuedGrant>> issue)
    {
        var entry = requests.GetOrAdd((orgId, requestId), _ => new RequestEntry(new Lazy<Task<IssuedGrant>>(issue)));
        return entry.Result.Value;
    }

    /// <summary>Forgets a request id whose grant failed, so that a retry decides again.</summary>
    public void ForgetRequest(string orgId, string requestId) => requests.TryRemove((orgId, requestId), out _);

    /// <summary>Frees every grant that expired by <paramref name="now"/>; returns how many.</summary>
    public int SweepExpired(DateTimeOffset now)
    {
        var expired = 0;
        foreach (var (id, grant) in active)
        {
            if (grant.ExpiresAt <= now && active.TryRemove(KeyValuePair.Create(id, grant)))
            {
                grant.ReleaseAll();
                expired++;
            }
        }

        foreach (var (key, entry) in requests)
        {
            var result = entry.Result;
            if (result.IsValueCreated && result.Value.IsCompletedSuccessfully && result.Value.Result.ExpiresAt <= now)
            {
                requests.TryRemove(KeyValuePair.Create(key, entry));
            }
        }

        metrics.Expired(expired);
        return expired;
    }

    private sealed record RequestEntry(Lazy<Task<IssuedGrant>> Result);
}
