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
/// <remarks>
/// Grants are kept by the second they expire in, so a sweep visits only the seconds that have
/// passed: sweeping every grant held each second cost 6 % of GetBudget's CPU once callers left
/// a few hundred thousand grants unreported, and grew with them.
/// </remarks>
public sealed class GrantBook(GovernanceMetrics metrics)
{
    // A second is dropped this long after it passed: an issuer that read the clock, then was
    // paused before adding its grant, still finds the second's grants in the book.
    private const long RetainedSeconds = 10;

    private readonly ConcurrentDictionary<long, ConcurrentDictionary<Guid, ActiveGrant>> byExpiry = new();
    private readonly ConcurrentDictionary<(string OrgId, string RequestId), RequestEntry> requests = new();

    // The request ids answered, by the second their grant expires in: swept like the grants.
    private readonly ConcurrentDictionary<long, ConcurrentQueue<(string OrgId, string RequestId)>> requestsByExpiry = new();

    public int ActiveCount
    {
        get
        {
            var count = 0;
            foreach (var (_, grants) in byExpiry)
            {
                count += grants.Count;
            }

            return count;
        }
    }

    public void Add(ActiveGrant grant)
    {
        ArgumentNullException.ThrowIfNull(grant);
        byExpiry.GetOrAdd(grant.ExpiresAt.ToUnixTimeSeconds(), _ => new ConcurrentDictionary<Guid, ActiveGrant>())[grant.Id] = grant;
    }

    /// <summary>Removes the grant if it is still held; the caller then owns its reservations.</summary>
    /// <param name="expiresAt">When the grant expires (its token says so): where the book keeps it.</param>
    public ActiveGrant? TryTake(Guid grantId, DateTimeOffset expiresAt) =>
        byExpiry.TryGetValue(expiresAt.ToUnixTimeSeconds(), out var grants) && grants.TryRemove(grantId, out var grant) ? grant : null;

    /// <summary>The answer already given (or being given) to this request id, or a new one from <paramref name="issue"/>.</summary>
    public Task<IssuedGrant> GetOrIssue(string orgId, string requestId, Func<Task<IssuedGrant>> issue)
    {
        var entry = requests.GetOrAdd((orgId, requestId), key => new RequestEntry(new Lazy<Task<IssuedGrant>>(() => RememberAsync(key, issue))));
        return entry.Result.Value;
    }

    private async Task<IssuedGrant> RememberAsync((string OrgId, string RequestId) key, Func<Task<IssuedGrant>> issue)
    {
        var grant = await issue();
        requestsByExpiry.GetOrAdd(grant.ExpiresAt.ToUnixTimeSeconds(), _ => new ConcurrentQueue<(string, string)>()).Enqueue(key);
        return grant;
    }

    /// <summary>Forgets a request id whose grant failed, so that a retry decides again.</summary>
    public void ForgetRequest(string orgId, string requestId) => requests.TryRemove((orgId, requestId), out _);

    /// <summary>Frees every grant that expired by <paramref name="now"/>; returns how many.</summary>
    public int SweepExpired(DateTimeOffset now)
    {
        var expired = 0;
        var current = now.ToUnixTimeSeconds();
        foreach (var (second, grants) in byExpiry)
        {
            if (second > current)
            {
                continue;
            }

            expired += Expire(grants, now);
            if (second < current - RetainedSeconds && byExpiry.TryRemove(KeyValuePair.Create(second, grants)))
            {
                expired += Expire(grants, now);
            }
        }

        foreach (var (second, keys) in requestsByExpiry)
        {
            // Only seconds that have passed, whose grants have all expired: a queue is in no time
            // order within its second, so the current one waits for the next sweep.
            if (second >= current)
            {
                continue;
            }

            ForgetExpiredRequests(keys, now);
            if (second < current - RetainedSeconds && requestsByExpiry.TryRemove(KeyValuePair.Create(second, keys)))
            {
                ForgetExpiredRequests(keys, now);
            }
        }

        metrics.Expired(expired);
        return expired;
    }

    private void ForgetExpiredRequests(ConcurrentQueue<(string OrgId, string RequestId)> keys, DateTimeOffset now)
    {
        while (keys.TryDequeue(out var key))
        {
            if (requests.TryGetValue(key, out var entry)
                && entry.Result is { IsValueCreated: true, Value.IsCompletedSuccessfully: true } result
                && result.Value.Result.ExpiresAt <= now)
            {
                requests.TryRemove(KeyValuePair.Create(key, entry));
            }
        }
    }

    private static int Expire(ConcurrentDictionary<Guid, ActiveGrant> grants, DateTimeOffset now)
    {
        var expired = 0;
        foreach (var (id, grant) in grants)
        {
            if (grant.ExpiresAt <= now && grants.TryRemove(KeyValuePair.Create(id, grant)))
            {
                grant.ReleaseAll();
                expired++;
            }
        }

        return expired;
    }

    private sealed record RequestEntry(Lazy<Task<IssuedGrant>> Result);
}
