using System.Collections.Concurrent;
using System.Net.Sockets;
using Google.Protobuf;

namespace TaskBudgets.Client.Tests.Infrastructure;

/// <summary>What the network does to one gRPC call.</summary>
public enum Fault
{
    /// <summary>Nothing: the call goes through.</summary>
    None,

    /// <summary>The request reaches the server and is served, but the answer is lost on the way back.</summary>
    DropAnswer,

    /// <summary>The request never reaches the server (connection refused).</summary>
    Unreachable,

    /// <summary>The request hangs until the caller's deadline cancels it.</summary>
    Stall,
}

/// <summary>One gRPC call as it went out: the method, the request message and the authorization header.</summary>
public sealed record SentCall(string Method, byte[] Message, string? Authorization)
{
    public T As<T>()
        where T : IMessage<T>, new() => new MessageParser<T>(() => new T()).ParseFrom(Message);
}

/// <summary>
/// A handler between the SDK and the server that records every gRPC call and injects network faults,
/// chosen per method and per attempt (1-based) by <see cref="Faults"/>.
/// </summary>
public sealed class Wiretap : DelegatingHandler
{
    private readonly ConcurrentQueue<SentCall> calls = new();
    private readonly ConcurrentDictionary<string, int> counts = new();

    public Func<string, int, Fault> Faults { get; set; } = (_, _) => Fault.None;

    public IReadOnlyList<SentCall> Calls => [.. calls];

    public IReadOnlyList<SentCall> Of(string method) => [.. calls.Where(c => c.Method == method)];

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var method = request.RequestUri!.Segments[^1];
        var nth = counts.AddOrUpdate(method, 1, (_, n) => n + 1);

        // Buffer the framed message (1 flag byte, 4 length bytes, the message) so it can be both read and sent.
        var original = request.Content!;
        var framed = await original.ReadAsByteArrayAsync(cancellationToken);
        var copy = new ByteArrayContent(framed);
        foreach (var header in original.Headers)
        {
            copy.Headers.TryAddWithoutValidation(header.Key, header.Value);
        }

        request.Content = copy;
        calls.Enqueue(new SentCall(method, framed[5..], request.Headers.Authorization?.ToString()));

        switch (Faults(method, nth))
        {
            case Fault.Unreachable:
                // What a refused connection looks like to gRPC: UNAVAILABLE.
                throw new HttpRequestException(HttpRequestError.ConnectionError, "connection refused (injected by the test)", new SocketException((int)SocketError.ConnectionRefused));
            case Fault.Stall:
                await Task.Delay(Timeout.InfiniteTimeSpan, cancellationToken);
                break;
            case Fault.DropAnswer:
                using (var lost = await base.SendAsync(request, cancellationToken))
                {
                    await lost.Content.ReadAsByteArrayAsync(cancellationToken);
                }

                throw new HttpRequestException(HttpRequestError.ResponseEnded, "the answer was lost (injected by the test)", new IOException("connection reset by peer"));
        }

        return await base.SendAsync(request, cancellationToken);
    }
}
