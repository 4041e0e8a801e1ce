using Microsoft.Extensions.Options;
using TaskBudgets.Governance.Storage;

namespace TaskBudgets.Governance.Quotas;

/// <summary>
/// In the background: renews this replica's leases, sizes them to recent demand (returning what
/// is not needed, so capacity near a limit is not stranded here), leases a busy window's next one
/// before it starts, retires ended windows, and reclaims the expired leases of dead replicas.
/// </summary>
public sealed partial class LeaseRenewal(
    QuotaLedger ledger,
    CapacityLeases leases,
    GrantBook book,
    IOptions<LeaseOptions> options,
    TimeProvider time,
    StorageOutage outage,
    ILogger<LeaseRenewal> logger) : BackgroundService
{
    private readonly LeaseOptions options = options.Value;
    private long lastPassTicks = time.GetUtcNow().UtcTicks;

    /// <summary>When the last renewal pass completed (or the service started).</summary>
    public DateTimeOffset LastPass => new(Interlocked.Read(ref lastPassTicks), TimeSpan.Zero);

    /// <summary>Renewal keeps up: a pass completed within three intervals.</summary>
    public bool Healthy => time.GetUtcNow() - LastPass <= 3 * options.RenewInterval + TimeSpan.FromSeconds(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.RenewInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    await RenewAllAsync(stoppingToken);
                    outage.Succeeded();
                }
                catch (Exception e) when (!stoppingToken.IsCancellationRequested && StorageOutage.IsOutage(e))
                {
                    // The database is away: grants go on from what is leased; try again next tick.
                    // Told once per outage, not with a stack trace every interval.
                    outage.Failed("renewing leases", e);
                }
                catch (Exception e) when (!stoppingToken.IsCancellationRequested)
                {
                    // Not the database being away: worth its stack trace. Grants go on from the leases.
                    LogRenewFailed(logger, e);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }

        await ReturnAllAsync();
    }

    /// <summary>One renewal pass over every bucket; public so tests can drive it with a fake clock.</summary>
    public async Task RenewAllAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var horizon = options.DemandHorizon.TotalSeconds / options.RenewInterval.TotalSeconds;

        // Remembered demand halves every demand horizon.
        var decay = Math.Pow(0.5, 1.0 / horizon);

        // All leases are extended in one transaction; then buckets are sized side by side (each
        // under its own LeaseGate, each touching only its own lease and counter rows): one after
        // another, a pass over a hundred buckets took longer than the interval on PostgreSQL.
        var buckets = ledger.Buckets.ToArray();
        var readings = await leases.RenewAllAsync(buckets, cancellationToken);

        // What other replicas debited is taken in before the grants they settled are freed, so
        // this replica never sees more room than there is.
        var observed = new HashSet<QuotaBucket>(buckets.Where(readings.ObserveInto), ReferenceEqualityComparer.Instance);
        book.ReleaseSettledElsewhere(readings.SettledElsewhere);
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = options.RenewParallelism, CancellationToken = cancellationToken };
        await Parallel.ForEachAsync(buckets, parallel, async (bucket, token) =>
        {
            await bucket.LeaseGate.WaitAsync(token);
            try
            {
                if (now >= bucket.WindowEnd)
                {
                    await leases.ReturnAsync(bucket, long.MaxValue, keepAllowance: false, token);
                    if (bucket.Reserved == 0)
                    {
                        ledger.Forget(bucket);
                    }

                    return;
                }

                // Renewed with the others above; a lease that was not (lost, or created meanwhile) on its own.
                if (!observed.Contains(bucket) && !await leases.RenewAsync(bucket, token))
                {
                    return;
                }

                if (now < bucket.WindowStart)
                {
                    // Leased ahead by LeaseNextWindowAsync, with no demand of its own yet: sized once it starts.
                    return;
                }

                // Near the limit a lease covers one interval of demand, not the horizon: what one
                // replica holds beyond that is capacity other replicas may be refused.
                var (recent, smoothed) = bucket.TakeDemand(decay);
                var unleased = bucket.Headroom().Remaining - Math.Max(0, bucket.Free);
                var target = LeaseSizing.Target(recent, smoothed, horizon, unleased, bucket.Quota.Limit);
                var free = bucket.Free;

                // Topped up ahead of exhaustion, with room for a burst, so grants do not find it
                // short; but near the limit only to one interval's demand and only when half gone,
                // so replicas do not each hold a fragment too small for a grant.
                var nearLimit = unleased < bucket.Quota.Limit / 10;
                if (target > 0 && free < (nearLimit ? target / 2 : target))
                {
                    await leases.GrowAsync(bucket, 0, 0, (nearLimit ? target : target + (target / 2)) - free, forGrant: false, readings.CounterOf(bucket), token);
                }
                else if (free > (2 * target) + 1)
                {
                    await leases.ReturnAsync(bucket, free - target, keepAllowance: true, token);
                }

                await LeaseNextWindowAsync(bucket, Math.Max(recent, smoothed), now, horizon, token);
            }
            finally
            {
                bucket.LeaseGate.Release();
            }
        });

        await leases.ReclaimExpiredAsync(cancellationToken);
        await leases.ReclaimFreeAsync(window: null, cancellationToken);
        Interlocked.Exchange(ref lastPassTicks, time.GetUtcNow().UtcTicks);
    }

    /// <summary>
    /// Near the end of a busy window, leases the next one ahead, sized to this one's demand. A new
    /// window has no lease, so without this a database outage that spans a rollover (every minute,
    /// for a per-minute quota) failed its grants closed at once instead of serving for
    /// Leases:ServeWithoutDatabaseFor; and each rollover's first grants waited for the database.
    /// The lease is a real one, taken from the next window's counter: nothing is granted ahead of it.
    /// Called for a current window, under its LeaseGate, with the demand its sizing just took.
    /// </summary>
    private async Task LeaseNextWindowAsync(QuotaBucket bucket, long demand, DateTimeOffset now, double horizon, CancellationToken cancellationToken)
    {
        var length = bucket.WindowEnd - bucket.WindowStart;
        var lead = TimeSpan.FromTicks(Math.Min(length.Ticks / 2, Math.Max(options.ServeWithoutDatabaseFor.Ticks, 2 * options.RenewInterval.Ticks)));
        if (demand == 0 || bucket.WindowEnd - now > lead)
        {
            return;
        }

        // Sized to this window's demand, which the next one has not seen yet; topped up as this
        // window's demand grows, never returned before the next window starts (its own sizing does).
        var next = ledger.BucketFor(bucket.Quota, bucket.Subject, bucket.WindowEnd);
        await next.LeaseGate.WaitAsync(cancellationToken);
        try
        {
            var (_, unleased) = next.DemandNow();
            var target = LeaseSizing.Target(demand, demand, horizon, unleased, next.Quota.Limit);
            var free = next.Free;
            if (free < target)
            {
                // Held whole: it is there to grant from when the database is away at the rollover.
                await leases.GrowAsync(next, 0, long.MaxValue, target + (target / 2) - free, forGrant: false, counter: null, cancellationToken);
            }
        }
        finally
        {
            next.LeaseGate.Release();
        }
    }

    /// <summary>On shutdown, give back every bit of free capacity, so other replicas need not wait for expiry.</summary>
    private async Task ReturnAllAsync()
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        foreach (var bucket in ledger.Buckets.ToArray())
        {
            try
            {
                await leases.ReturnAsync(bucket, long.MaxValue, keepAllowance: false, deadline.Token);
            }
            catch (Exception e)
            {
                LogRenewFailed(logger, e);
                return;
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Lease renewal failed; serving from the leases held.")]
    private static partial void LogRenewFailed(ILogger logger, Exception exception);
}
