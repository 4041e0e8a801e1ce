using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace TaskBudgets.Client.Tests.Infrastructure;

/// <summary>Keeps what the SDK logs, so tests can see what happened where no request left the process.</summary>
public sealed class LogSink : ILoggerProvider
{
    private readonly ConcurrentQueue<(string Category, LogLevel Level, EventId Event, string Message)> entries = new();

    public IReadOnlyList<(string Category, LogLevel Level, EventId Event, string Message)> Entries => [.. entries];

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class Logger(LogSink sink, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            sink.entries.Enqueue((category, logLevel, eventId, formatter(state, exception)));
    }
}
