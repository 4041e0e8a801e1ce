using System.Data.Common;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using Npgsql;

namespace TaskBudgets.Governance.Storage;

/// <summary>
/// One story per database outage instead of a stack trace per attempt: the storage callers report
/// each failed and each working database call here. The first failure after a healthy spell logs
/// one warning, the failures after it are counted into at most one summary a summary interval, and
/// the first success logs one line with how long it lasted. Only outage-type failures
/// (<see cref="IsOutage"/>) belong here: any other failure keeps its caller's error and stack trace.
/// </summary>
public sealed partial class StorageOutage
{
    private static readonly object Counted = new();
    private readonly TimeProvider time;
    private readonly ILogger<StorageOutage> logger;
    private readonly TimeSpan summaryInterval;
    private readonly Lock gate = new();

    // Each exception once: a failed group commit reaches every caller in its batch, and each of
    // their calls again through the error interceptor, but it was one failed database operation.
    private readonly ConditionalWeakTable<Exception, object> seen = new();
    private volatile bool down;
    private DateTimeOffset startedAt;
    private DateTimeOffset summarizedAt;
    private long failed;
    private long failedSinceSummary;

    public StorageOutage(TimeProvider time, ILogger<StorageOutage> logger)
        : this(time, logger, TimeSpan.FromSeconds(10))
    {
    }

    /// <param name="summaryInterval">The least time between two lines of one outage (tests shorten it).</param>
    internal StorageOutage(TimeProvider time, ILogger<StorageOutage> logger, TimeSpan summaryInterval)
    {
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(logger);
        this.time = time;
        this.logger = logger;
        this.summaryInterval = summaryInterval;
    }

    /// <summary>Whether the database is taken to be unreachable: an outage-type failure came after the last success.</summary>
    public bool Down => down;

    /// <summary>
    /// Whether <paramref name="exception"/> says the database could not be reached or did not answer
    /// (refused or broken connection, timeout, shutdown, locked or unwritable file), as opposed to a
    /// failure of the statement itself (a constraint, a bug) that someone must look at.
    /// </summary>
    public static bool IsOutage(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (e is AggregateException aggregate)
            {
                return aggregate.InnerExceptions.Count > 0 && aggregate.InnerExceptions.All(IsOutage);
            }

            if (Unreachable(e))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>A database call failed with an outage-type failure (<see cref="IsOutage"/>) during <paramref name="operation"/>.</summary>
    public void Failed(string operation, Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        var now = time.GetUtcNow();
        lock (gate)
        {
            if (!seen.TryAdd(exception, Counted))
            {
                return;
            }

            if (!down)
            {
                down = true;
                startedAt = summarizedAt = now;
                failed = 1;
                failedSinceSummary = 0;
                LogUnreachable(logger, operation, Describe(exception));
                return;
            }

            failed++;
            failedSinceSummary++;
            if (now - summarizedAt >= summaryInterval)
            {
                LogStillUnreachable(logger, (now - startedAt).TotalSeconds, failedSinceSummary, failed, Describe(exception));
                summarizedAt = now;
                failedSinceSummary = 0;
            }
        }
    }

    /// <summary>A database call worked; ends the outage if there is one. Cheap when there is none (one volatile read).</summary>
    public void Succeeded()
    {
        if (!down)
        {
            return;
        }

        var now = time.GetUtcNow();
        lock (gate)
        {
            if (!down)
            {
                return;
            }

            down = false;
            LogReachable(logger, (now - startedAt).TotalSeconds, failed);
        }
    }

    /// <summary>The exception's type and message in one line, without its stack: its wrappers skipped, its root cause added.</summary>
    internal static string Describe(Exception exception)
    {
        var e = exception;
        while (e.InnerException is { } inner && e is InvalidOperationException or DbUpdateException or RetryLimitExceededException or AggregateException)
        {
            e = inner;
        }

        var text = $"{e.GetType().Name}: {OneLine(e.Message)}";
        var cause = e.GetBaseException();
        return cause == e ? text : $"{text} ({cause.GetType().Name}: {OneLine(cause.Message)})";
    }

    private static bool Unreachable(Exception e) => e switch
    {
        // The server answered: only its "cannot serve you" states are an outage, not a constraint
        // or a serialization failure (transient too, but a race the caller handles, not an outage).
        PostgresException p => p.SqlState.StartsWith("08", StringComparison.Ordinal) // connection exception
            || p.SqlState.StartsWith("53", StringComparison.Ordinal) // insufficient resources: too many connections, disk full
            || p.SqlState is "57P01" or "57P02" or "57P03", // admin shutdown, crash shutdown, cannot connect now
        SqliteException s => s.SqliteErrorCode is 5 or 6 or 10 or 13 or 14, // busy, locked, I/O error, full, cannot open
        DbException db => db.IsTransient, // Npgsql's own: refused, broken or timed-out connections; SQL Server's transient errors
        TimeoutException or SocketException or RetryLimitExceededException => true,
        _ => false,
    };

    private static string OneLine(string message) => message.ReplaceLineEndings(" ").Trim();

    [LoggerMessage(Level = LogLevel.Warning, Message = "The database is unreachable ({Operation}): {Error}; serving from leases, reports get UNAVAILABLE.")]
    private static partial void LogUnreachable(ILogger logger, string operation, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The database is still unreachable after {Seconds:0} s: {Failed} operations failed since the last report, {Total} in all; the last: {Error}.")]
    private static partial void LogStillUnreachable(ILogger logger, double seconds, long failed, long total, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The database is reachable again after {Seconds:0.0} s; {Failed} operations failed meanwhile.")]
    private static partial void LogReachable(ILogger logger, double seconds, long failed);
}
