using System.Net;
using System.Threading.RateLimiting;
using Microsoft.Extensions.Options;

namespace TaskBudgets.Governance.Auth;

/// <summary>
/// Failed authentications (no key, a secret that is no key, a revoked key) per client address on
/// this replica: a token bucket of Auth:FailedAuthBurst, refilled by Auth:FailedAuthPerSecond. An
/// address whose bucket is empty gets no database lookup for a secret the caches do not know, and
/// its failures are refused as limited; a key the caches know still passes. The failures are
/// logged at most once per Auth:FailureLogInterval, with their count.
/// </summary>
public sealed partial class FailedAuthentications : IDisposable
{
    private const string Unknown = "unknown";
    private readonly PartitionedRateLimiter<string> limiter;
    private readonly TimeProvider time;
    private readonly ILogger<FailedAuthentications> logger;
    private readonly TimeSpan logInterval;
    private long sinceLogged;
    private long nextLogAt;

    public FailedAuthentications(IOptions<AuthOptions> options, TimeProvider time, ILogger<FailedAuthentications> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        var auth = options.Value;
        var bucket = new TokenBucketRateLimiterOptions
        {
            TokenLimit = auth.FailedAuthBurst,
            TokensPerPeriod = auth.FailedAuthPerSecond,
            ReplenishmentPeriod = TimeSpan.FromSeconds(1),
            QueueLimit = 0,

            // The partitioned limiter refills its buckets on its own timer, and drops full ones
            // that have been idle a while: one timer, and memory only for recent failing addresses.
            AutoReplenishment = false,
        };
        limiter = PartitionedRateLimiter.Create<string, string>(address => RateLimitPartition.GetTokenBucketLimiter(address, _ => bucket));
        this.time = time;
        this.logger = logger;
        logInterval = auth.FailureLogInterval;
    }

    /// <summary>The partition of a client address ("unknown" when the transport gives none).</summary>
    public static string Partition(IPAddress? address) =>
        address is null ? Unknown : (address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address).ToString();

    /// <summary>Whether the address may still fail (so may have a secret looked up); when not, how long until it may.</summary>
    public bool MayTry(string address, out TimeSpan retryAfter)
    {
        // Looked at, not taken: an acquire of no permits passes on an empty bucket.
        var within = limiter.GetStatistics(address) is not { CurrentAvailablePermits: <= 0 };
        retryAfter = within ? TimeSpan.Zero : TimeSpan.FromSeconds(1);
        return within;
    }

    /// <summary>Counts a failure of the address: false when it is over its limit, with how long until it is not.</summary>
    public bool Fail(string address, string method, string reason, out TimeSpan retryAfter)
    {
        using var lease = limiter.AttemptAcquire(address, 1);
        var within = Answer(lease, out retryAfter);
        Log(address, method, within ? reason : reason + ", limited");
        return within;
    }

    public void Dispose() => limiter.Dispose();

    private static bool Answer(RateLimitLease lease, out TimeSpan retryAfter)
    {
        if (lease.IsAcquired)
        {
            retryAfter = TimeSpan.Zero;
            return true;
        }

        retryAfter = lease.TryGetMetadata(MetadataName.RetryAfter, out var after) && after > TimeSpan.Zero ? after : TimeSpan.FromSeconds(1);
        return false;
    }

    // One line per interval at most, whoever fails and however often: the count says how many.
    private void Log(string address, string method, string reason)
    {
        Interlocked.Increment(ref sinceLogged);
        var now = time.GetTimestamp();
        var next = Interlocked.Read(ref nextLogAt);
        if (now < next || Interlocked.CompareExchange(ref nextLogAt, now + (long)(logInterval.TotalSeconds * time.TimestampFrequency), next) != next)
        {
            return;
        }

        var count = Interlocked.Exchange(ref sinceLogged, 0);
        LogFailures(logger, count, logInterval, method, address, reason);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "{Count} failed authentications since the last such line (at most one every {Interval}); the latest: {Method} from {Address}, {Reason}.")]
    private static partial void LogFailures(ILogger logger, long count, TimeSpan interval, string method, string address, string reason);
}
