using System.Diagnostics.Metrics;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using TaskBudgets.Governance.Hosting;
using TaskBudgets.Governance.Tests.Infrastructure;

namespace TaskBudgets.Governance.Tests.Api;

/// <summary>
/// The call pipeline hands a completed call back as it is and only awaits the others: each of the
/// three ways a continuation can end (completed, failing later, throwing at once) keeps its meaning.
/// The gRPC tests cover the first two through the server; throwing at once is covered here, on the
/// pipeline the app registers (the test methods are not protected, so no key is asked for).
/// </summary>
public sealed class CallPipelineTests : AppTests
{
    private static readonly GovernanceException Refusal = new(RefusalKind.NotFound, "ORG_NOT_FOUND", "Org 'x' is not defined.");

    [Fact]
    public async Task A_refusal_thrown_at_once_is_translated_as_one_thrown_later()
    {
        var interceptor = App.Services.GetRequiredService<CallPipeline>();

        var atOnce = ThrownAtOnce<RpcException>(() => interceptor.UnaryServerHandler<string, string>("request", new TestCallContext("/t/AtOnce"), (_, _) => throw Refusal));
        var later = await Assert.ThrowsAsync<RpcException>(() => interceptor.UnaryServerHandler<string, string>("request", new TestCallContext("/t/Later"), LaterAsync));

        Assert.Equal(StatusCode.NotFound, atOnce.StatusCode);
        Assert.Equal(StatusCode.NotFound, later.StatusCode);
        Assert.Equal(later.Status.Detail, atOnce.Status.Detail);

        static async Task<string> LaterAsync(string request, ServerCallContext context)
        {
            await Task.Yield();
            throw Refusal;
        }
    }

    [Fact]
    public void Other_exceptions_and_completed_calls_are_left_as_they_are()
    {
        var interceptor = App.Services.GetRequiredService<CallPipeline>();
        var completed = Task.FromResult("response");

        var returned = interceptor.UnaryServerHandler<string, string>("request", new TestCallContext("/t/Ok"), (_, _) => completed);
        var other = ThrownAtOnce<InvalidOperationException>(() => interceptor.UnaryServerHandler<string, string>("request", new TestCallContext("/t/Bug"), (_, _) => throw new InvalidOperationException("bug")));

        Assert.Same(completed, returned);
        Assert.Equal("bug", other.Message);
    }

    [Fact]
    public async Task Each_call_is_recorded_once_with_its_status_however_it_ends()
    {
        var interceptor = App.Services.GetRequiredService<CallPipeline>();
        var prefix = "/t-" + Guid.NewGuid().ToString("N") + "/";
        var recorded = new List<(string Method, string Status)>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Name == "taskbudgets.rpc.duration")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<double>((_, _, tags, _) =>
        {
            var method = string.Empty;
            var status = string.Empty;
            foreach (var tag in tags)
            {
                (method, status) = tag.Key switch
                {
                    "rpc_method" => ((string)tag.Value!, status),
                    "rpc_grpc_status_code" => (method, (string)tag.Value!),
                    _ => (method, status),
                };
            }

            if (method.StartsWith(prefix, StringComparison.Ordinal))
            {
                lock (recorded)
                {
                    recorded.Add((method[prefix.Length..], status));
                }
            }
        });
        listener.Start();

        await interceptor.UnaryServerHandler<string, string>("request", new TestCallContext(prefix + "Completed"), (_, _) => Task.FromResult("response"));
        await interceptor.UnaryServerHandler<string, string>("request", new TestCallContext(prefix + "Awaited"), AwaitedAsync);
        ThrownAtOnce<RpcException>(() => interceptor.UnaryServerHandler<string, string>("request", new TestCallContext(prefix + "ThrownAtOnce"), (_, _) => throw new RpcException(new Status(StatusCode.PermissionDenied, "no"))));
        await Assert.ThrowsAsync<RpcException>(() => interceptor.UnaryServerHandler<string, string>("request", new TestCallContext(prefix + "FailedLater"), FailedLaterAsync));
        await Assert.ThrowsAsync<InvalidOperationException>(() => interceptor.UnaryServerHandler<string, string>("request", new TestCallContext(prefix + "Bug"), BugAsync));

        Assert.Equal(
            [("Completed", "OK"), ("Awaited", "OK"), ("ThrownAtOnce", "PermissionDenied"), ("FailedLater", "ResourceExhausted"), ("Bug", "Unknown")],
            recorded);

        static async Task<string> AwaitedAsync(string request, ServerCallContext context)
        {
            await Task.Yield();
            return "response";
        }

        static async Task<string> FailedLaterAsync(string request, ServerCallContext context)
        {
            await Task.Yield();
            throw new RpcException(new Status(StatusCode.ResourceExhausted, "quota"));
        }

        static async Task<string> BugAsync(string request, ServerCallContext context)
        {
            await Task.Yield();
            throw new InvalidOperationException("bug");
        }
    }

    /// <summary>The exception <paramref name="call"/> throws before it returns a task.</summary>
    private static T ThrownAtOnce<T>(Func<Task> call)
        where T : Exception
    {
        Task? returned = null;
        var thrown = Record.Exception(() => { returned = call(); });
        Assert.Null(returned);
        return Assert.IsType<T>(thrown);
    }
}
