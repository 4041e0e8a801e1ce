using System.Collections.Concurrent;

namespace TaskBudgets.Gateway.Proxy;

/// <summary>
/// Usage reports made after the caller has its answer: the call's handler returns at once, so the
/// caller's connection is free for its next request while the report is committed. Stopping the
/// host waits for the reports still running (within the host's shutdown timeout).
/// </summary>
internal sealed class PendingReports : IHostedService
{
    private readonly ConcurrentDictionary<Task, byte> running = new();

    public void Track(Task report)
    {
        running.TryAdd(report, 0);
        _ = report.ContinueWith(done => running.TryRemove(done, out _), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.WhenAll(running.Keys).WaitAsync(cancellationToken);
}
