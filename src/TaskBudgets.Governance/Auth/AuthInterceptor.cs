using Google.Protobuf;
using Grpc.AspNetCore.Server;
using Grpc.Core;
using Grpc.Core.Interceptors;
using TaskBudgets.Governance.Api;
using TaskBudgets.Governance.Contract;

namespace TaskBudgets.Governance.Auth;

/// <summary>
/// Every RPC of BudgetService and AdminService needs `authorization: Bearer &lt;key&gt;`: no key or an
/// unknown or revoked one is UNAUTHENTICATED; a key past its request rate is RESOURCE_EXHAUSTED
/// with RetryInfo; a key the <see cref="AccessRules"/> table refuses is PERMISSION_DENIED. Health
/// and reflection stay open. Nothing runs, so nothing changes, unless all three pass.
/// </summary>
public sealed partial class AuthInterceptor(KeyDirectory keys, AccessRules rules, RequestRateLimiter limiter, ILogger<AuthInterceptor> logger) : Interceptor
{
    private const string Scheme = "Bearer ";

    // Not async: a key found in the cache authorises synchronously, and every unary call then
    // goes straight on without a state machine and a task of its own.
    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request,
        ServerCallContext context,
        UnaryServerMethod<TRequest, TResponse> continuation)
    {
        ArgumentNullException.ThrowIfNull(continuation);
        var authorized = AuthorizeAsync(context, request as IMessage);
        return authorized.IsCompletedSuccessfully ? continuation(request, context) : AfterAsync(authorized, request, context, continuation);

        static async Task<TResponse> AfterAsync(ValueTask authorized, TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
        {
            await authorized;
            return await continuation(request, context);
        }
    }

    // Streaming calls (none in the services today) get the same checks, so a new one cannot
    // slip past them; with no single request to name an org, only admin keys pass.
    public override async Task ServerStreamingServerHandler<TRequest, TResponse>(
        TRequest request,
        IServerStreamWriter<TResponse> responseStream,
        ServerCallContext context,
        ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        ArgumentNullException.ThrowIfNull(continuation);
        await AuthorizeAsync(context, request as IMessage);
        await continuation(request, responseStream, context);
    }

    public override async Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream,
        ServerCallContext context,
        ClientStreamingServerMethod<TRequest, TResponse> continuation)
    {
        ArgumentNullException.ThrowIfNull(continuation);
        await AuthorizeAsync(context, null);
        return await continuation(requestStream, context);
    }

    public override async Task DuplexStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream,
        IServerStreamWriter<TResponse> responseStream,
        ServerCallContext context,
        DuplexStreamingServerMethod<TRequest, TResponse> continuation)
    {
        ArgumentNullException.ThrowIfNull(continuation);
        await AuthorizeAsync(context, null);
        await continuation(requestStream, responseStream, context);
    }

    private async ValueTask AuthorizeAsync(ServerCallContext context, IMessage? request)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (!AccessRules.Protects(context.Method))
        {
            return;
        }

        // From the HTTP request: context.RequestHeaders would first copy every header of the call.
        var values = context.GetHttpContext().Request.Headers.Authorization;
        var header = values.Count > 0 ? values[0] : null;
        if (header is null || !header.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase))
        {
            throw RpcErrors.Unauthenticated("KEY_MISSING", "This call needs an API key: send the header 'authorization: Bearer <key>'.");
        }

        var who = await keys.FindAsync(header.AsSpan(Scheme.Length).Trim(), context.CancellationToken);
        if (who is null)
        {
            LogUnknownKey(logger, context.Method);
            throw RpcErrors.Unauthenticated("KEY_INVALID", "The API key is unknown or revoked.");
        }

        if (!limiter.TryAcquire(who.KeyId, out var wait))
        {
            throw RpcErrors.RateLimited(wait);
        }

        if (rules.Refusal(context.Method, request, who) is { } refusal)
        {
            LogDenied(logger, who.KeyId, context.Method);
            throw RpcErrors.PermissionDenied(refusal);
        }

        who.AttachTo(context);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "{Method}: unknown or revoked API key.")]
    private static partial void LogUnknownKey(ILogger logger, string method);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Method}: denied to key {KeyId}.")]
    private static partial void LogDenied(ILogger logger, string keyId, string method);
}
