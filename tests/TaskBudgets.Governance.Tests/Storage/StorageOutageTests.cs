using System.Collections.Concurrent;
using System.Net.Sockets;
using Grpc.Core;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Npgsql;
using TaskBudgets.Governance.Api;
using TaskBudgets.Governance.Storage;
using TaskBudgets.Governance.Tests.Infrastructure;

// Not ...Tests.Storage: a namespace of that name would hide TaskBudgets.Governance.Storage from
// the tests that write Storage.PolicyRows.
namespace TaskBudgets.Governance.Tests.Outages;

/// <summary>
/// A database outage is told in a few lines (one when it starts, a bounded number of summaries,
/// one when it ends), none with a stack trace; failures that are not an outage are not taken in.
/// </summary>
public sealed class StorageOutageTests
{
    private static readonly DateTimeOffset Start = DateTimeOffset.FromUnixTimeSeconds(1_800_000_000);
    private readonly FakeTimeProvider time = new(Start);
    private readonly Captured<StorageOutage> log = new();

    [Fact]
    public void An_outage_logs_one_warning_when_it_starts_a_summary_at_most_every_interval_and_one_line_when_it_ends()
    {
        var outage = new StorageOutage(time, log, TimeSpan.FromSeconds(10));

        // 25 s of failures, 20 a second: 500 failed operations.
        for (var i = 0; i < 500; i++)
        {
            outage.Failed("renewing leases", Refused());
            time.Advance(TimeSpan.FromMilliseconds(50));
        }

        var during = log.Entries;
        Assert.True(outage.Down);
        Assert.Equal(3, during.Count);
        Assert.Contains("The database is unreachable (renewing leases): NpgsqlException: Failed to connect to 127.0.0.1:5432 (SocketException: Connection refused)", during[0].Message, StringComparison.Ordinal);
        Assert.Contains("still unreachable after 10 s: 200 operations failed since the last report, 201 in all", during[1].Message, StringComparison.Ordinal);
        Assert.Contains("still unreachable after 20 s: 200 operations failed since the last report, 401 in all", during[2].Message, StringComparison.Ordinal);

        outage.Succeeded();
        outage.Succeeded();

        var all = log.Entries;
        Assert.Equal(4, all.Count);
        Assert.Equal("The database is reachable again after 25.0 s; 500 operations failed meanwhile.", all[3].Message);
        Assert.False(outage.Down);
        Assert.All(all, e => Assert.Equal(LogLevel.Warning, e.Level));

        // No stack traces: the exception is described in the message, not attached.
        Assert.All(all, e => Assert.Null(e.Exception));
        Assert.All(all, e => Assert.DoesNotContain("   at ", e.Message, StringComparison.Ordinal));
    }

    [Fact]
    public void Successes_while_healthy_log_nothing_and_a_later_outage_is_told_again()
    {
        var outage = new StorageOutage(time, log, TimeSpan.FromSeconds(10));
        outage.Succeeded();
        Assert.Empty(log.Entries);

        outage.Failed("committing reports", Refused());
        time.Advance(TimeSpan.FromSeconds(2));
        outage.Succeeded();
        time.Advance(TimeSpan.FromMinutes(1));
        outage.Failed("renewing leases", Refused());

        Assert.Collection(
            log.Entries,
            e => Assert.StartsWith("The database is unreachable (committing reports)", e.Message, StringComparison.Ordinal),
            e => Assert.Equal("The database is reachable again after 2.0 s; 1 operations failed meanwhile.", e.Message),
            e => Assert.StartsWith("The database is unreachable (renewing leases)", e.Message, StringComparison.Ordinal));
    }

    [Fact]
    public void One_failure_reported_by_several_callers_counts_once()
    {
        // A failed group commit reaches each caller in the batch, and the error interceptor again.
        var outage = new StorageOutage(time, log, TimeSpan.FromSeconds(10));
        var commit = Refused();
        outage.Failed("committing reports", commit);
        outage.Failed("/taskbudgets.v1.BudgetService/ReportUsage", commit);
        outage.Failed("/taskbudgets.v1.BudgetService/ReportUsage", commit);
        outage.Failed("renewing leases", Refused());
        outage.Succeeded();

        Assert.EndsWith("2 operations failed meanwhile.", log.Entries[^1].Message, StringComparison.Ordinal);
    }

    public static TheoryData<string, Exception, bool> Failures => new()
    {
        { "connection refused", Refused(), true },
        { "wrapped by EF's execution strategy", new InvalidOperationException("An exception has been raised that is likely due to a transient failure.", Refused()), true },
        { "a save that could not connect", new DbUpdateException("save failed", Refused()), true },
        { "an administrator shutdown", Postgres("57P01"), true },
        { "a dropped connection", Postgres("08006"), true },
        { "too many connections", Postgres("53300"), true },
        { "a timeout", new TimeoutException("timed out"), true },
        { "EF out of retries", new RetryLimitExceededException("retries", Refused()), true },
        { "a busy SQLite file", new SqliteException("database is locked", 5), true },
        { "a unique violation", new DbUpdateException("save failed", Postgres("23505")), false },
        { "a serialization failure", Postgres("40001"), false },
        { "a SQLite constraint", new SqliteException("constraint failed", 19), false },
        { "a bug", new InvalidOperationException("bug"), false },
        { "a missing key", new KeyNotFoundException("no such row"), false },
        { "all of several failures an outage", new AggregateException(Refused(), new TimeoutException()), true },
        { "one of several failures a bug", new AggregateException(Refused(), new InvalidOperationException("bug")), false },
    };

    [Theory]
    [MemberData(nameof(Failures))]
    public void Only_failures_to_reach_the_database_are_an_outage(string what, Exception failure, bool outage)
    {
        Assert.True(outage == StorageOutage.IsOutage(failure), what);
    }

    [Fact]
    public void Error_translation_tells_an_outage_through_StorageOutage_and_keeps_the_error_for_anything_else()
    {
        var outage = new StorageOutage(time, log, TimeSpan.FromSeconds(10));
        var errors = new Captured<ErrorTranslation>();
        var translation = new ErrorTranslation(time, outage, errors);
        var unreachable = new InvalidOperationException("An exception has been raised that is likely due to a transient failure.", Refused());
        var violation = new DbUpdateException("save failed", Postgres("23505"));

        for (var i = 0; i < 50; i++)
        {
            var refused = translation.Translate(unreachable, new TestCallContext("/t/Report"));
            Assert.Equal(StatusCode.Unavailable, refused?.StatusCode);
        }

        var failed = translation.Translate(violation, new TestCallContext("/t/Report"));

        Assert.Equal(StatusCode.Unavailable, failed?.StatusCode);
        var told = Assert.Single(log.Entries);
        Assert.StartsWith("The database is unreachable (/t/Report): NpgsqlException", told.Message, StringComparison.Ordinal);
        var error = Assert.Single(errors.Entries);
        Assert.Equal(LogLevel.Error, error.Level);
        Assert.Same(violation, error.Exception);
    }

    private static NpgsqlException Refused() =>
        new("Failed to connect to 127.0.0.1:5432", new SocketException((int)SocketError.ConnectionRefused, "Connection refused"));

    private static PostgresException Postgres(string sqlState) => new("message of " + sqlState, "ERROR", "ERROR", sqlState);

    /// <summary>Keeps every entry logged, with the exception attached to it (the stack trace a console would print).</summary>
    private sealed class Captured<T> : ILogger<T>
    {
        private readonly ConcurrentQueue<(LogLevel Level, string Message, Exception? Exception)> entries = new();

        public IReadOnlyList<(LogLevel Level, string Message, Exception? Exception)> Entries => [.. entries];

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            entries.Enqueue((logLevel, formatter(state, exception), exception));
    }
}
