using Grpc.Core;
using Microsoft.AspNetCore.Http;

namespace TaskBudgets.Governance.Tests.Infrastructure;

/// <summary>Just enough of a gRPC call for an interceptor: its method name, and an HTTP request that came as gRPC.</summary>
internal sealed class TestCallContext : ServerCallContext
{
    private readonly string method;

    public TestCallContext(string method)
    {
        this.method = method;

        // Where grpc-dotnet's GetHttpContext looks for a call's HttpContext outside a server.
        var http = new DefaultHttpContext();
        http.Request.ContentType = "application/grpc";
        UserState["__HttpContext"] = http;
    }

    protected override string MethodCore => method;

    protected override string HostCore => "localhost";

    protected override string PeerCore => "ipv4:127.0.0.1:1";

    protected override DateTime DeadlineCore => DateTime.MaxValue;

    protected override Metadata RequestHeadersCore { get; } = [];

    protected override CancellationToken CancellationTokenCore => CancellationToken.None;

    protected override Metadata ResponseTrailersCore { get; } = [];

    protected override Status StatusCore { get; set; }

    protected override WriteOptions? WriteOptionsCore { get; set; }

    protected override AuthContext AuthContextCore => new(null, []);

    protected override ContextPropagationToken CreatePropagationTokenCore(ContextPropagationOptions? options) => throw new NotSupportedException();

    protected override Task WriteResponseHeadersAsyncCore(Metadata responseHeaders) => Task.CompletedTask;
}
