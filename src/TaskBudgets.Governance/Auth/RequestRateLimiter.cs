using System.Collections.Concurrent;
using Microsoft.Extensions.Options;

namespace TaskBudgets.Governance.Auth;

/// <summary>
/// A token bucket per key on this replica: Auth:RequestBurst requests at once, refilled at
/// Auth:RequestsPerSecond. Time comes from the injected clock.
/// </summary>
public sealed class RequestRateLimiter(IOptions<AuthOptions> options, TimeProvider time)
{
    private readonly ConcurrentDictionary<string, Bucket> buckets = new(StringComparer.Ordinal);
    private readonly double rate = options.Value.RequestsPerSecond;
    private readonly double burst = options.Value.RequestBurst;

    /// <summary>Takes one request from the key's bucket; when it is empty, says how long until one is back.</summary>
    public bool TryAcquire(string keyId, out TimeSpan retryAfter)
    {
        var now = time.GetTimestamp();
        var bucket = buckets.GetOrAdd(keyId, _ => new Bucket(burst, now));
        lock (bucket)
        {
            var elapsed = time.GetElapsedTime(bucket.Stamp, now).TotalSeconds;
            if (elapsed > 0)
            {
                bucket.Tokens = Math.Min(burst, bucket.Tokens + (elapsed * rate));
                bucket.Stamp = now;
            }

            if (bucket.Tokens >= 1)
            {
                bucket.Tokens -= 1;
                retryAfter = TimeSpan.Zero;
                return true;
            }

            retryAfter = TimeSpan.FromSeconds((1 - bucket.Tokens) / rate);
            return false;
        }
    }

    private sealed class Bucket(double tokens, long stamp)
    {
        public double Tokens { get; set; } = tokens;

        public long Stamp { get; set; } = stamp;
    }
}
