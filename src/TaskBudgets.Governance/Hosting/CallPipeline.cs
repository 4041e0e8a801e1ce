using System.Diagnostics;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Core.Interceptors;
using TaskBudgets.Governance.Api;
using TaskBudgets.Governance.Auth;
using TaskBudgets.Governance.Telemetry;

namespace TaskBudgets.Governance.Hosting;

/// <summary>
/// What runs around every gRPC and HTTP/JSON call, as one interceptor: the key check
/// (<see cref="CallAuthorization"/>), then the call; its refusals translated
/// (<see cref="ErrorTranslation"/>), given their HTTP headers (<see cref="HttpErrorHeaders"/>) and
/// the call timed with the status it ended in (<see cref="RpcMetrics"/>).
/// </summary>
/// <remarks>
/// One interceptor rather than four: grpc-dotnet activates each registered interceptor and wraps
/// it in an async step of its own on every call. Not async either: a call that completes
/// synchronously (a grant served from a lease) is recorded and handed back as it is, without a
/// state machine and a task of its own; only failures and calls still running are awaited.
/// </remarks>
public sealed class CallPipeline(CallAuthorization authorization, ErrorTranslation errors, RpcMetrics metrics) : Interceptor
{
    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request,
        ServerCallContext context,
        UnaryServerMethod<TRequest, TResponse> continuation)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(continuation);
        var started = Stopwatch.GetTimestamp();
        Task<TResponse> call;
        try
        {
            var authorized = authorization.AuthorizeAsync(context, request as IMessage);
            call = authorized.IsCompletedSuccessfully ? continuation(request, context) : AfterAuthorizationAsync(authorized, request, context, continuation);
        }
        catch (Exception e)
        {
            var thrown = Failed(e, context, started);
            if (ReferenceEquals(thrown, e))
            {
                throw;
            }

            throw thrown;
        }

        if (call.IsCompletedSuccessfully)
        {
            metrics.Record(context, started, StatusCode.OK);
            return call;
        }

        return AwaitAsync(call, context, started);

        static async Task<TResponse> AfterAuthorizationAsync(ValueTask authorized, TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
        {
            await authorized;
            return await continuation(request, context);
        }
    }

    // Streaming calls (none in the services today) get the same key checks, so a new one cannot
    // slip past them; with no single request to name an org, only admin keys pass.
    public override async Task ServerStreamingServerHandler<TRequest, TResponse>(
        TRequest request,
        IServerStreamWriter<TResponse> responseStream,
        ServerCallContext context,
        ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        ArgumentNullException.ThrowIfNull(continuation);
        await authorization.AuthorizeAsync(context, request as IMessage);
        await continuation(request, responseStream, context);
    }

    public override async Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream,
        ServerCallContext context,
        ClientStreamingServerMethod<TRequest, TResponse> continuation)
    {
        ArgumentNullException.ThrowIfNull(continuation);
        await authorization.AuthorizeAsync(context, null);
        return await continuation(requestStream, context);
    }

    public override async Task DuplexStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream,
        IServerStreamWriter<TResponse> responseStream,
        ServerCallContext context,
        DuplexStreamingServerMethod<TRequest, TResponse> continuation)
    {
        ArgumentNullException.ThrowIfNull(continuation);
        await authorization.AuthorizeAsync(context, null);
        await continuation(requestStream, responseStream, context);
    }

    private async Task<TResponse> AwaitAsync<TResponse>(Task<TResponse> call, ServerCallContext context, long started)
    {
        TResponse response;
        try
        {
            response = await call;
        }
        catch (Exception e)
        {
            var thrown = Failed(e, context, started);
            if (ReferenceEquals(thrown, e))
            {
                throw;
            }

            throw thrown;
        }

        metrics.Record(context, started, StatusCode.OK);
        return response;
    }

    /// <summary>What a failed call throws to its caller (the translated error, or the exception as it was), recorded.</summary>
    private Exception Failed(Exception e, ServerCallContext context, long started)
    {
        Exception thrown = errors.Translate(e, context) ?? e;
        if (thrown is RpcException rpc)
        {
            HttpErrorHeaders.Add(context, rpc);
        }

        metrics.Record(context, started, RpcMetrics.StatusOf(thrown));
        return thrown;
    }
}
