using Google.Protobuf;
using Grpc.Core;
using Grpc.Core.Interceptors;
using TaskBudgets.Governance.Api;

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

    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request,
        ServerCallContext context,
        UnaryServerMethod<TRequest, TResponse> continuation)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(continuation);
        if (!AccessRules.Protects(context.Method))
        {
            return await continuation(request, context);
        }

        var header = context.RequestHeaders.GetValue("authorization");
        if (header is null || !header.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase))
        {
            throw RpcErrors.Unauthenticated("KEY_MISSING", "This call needs an API key: send the header 'authorization: Bearer <key>'.");
        }

        var who = await keys.FindAsync(header[Scheme.Length..].Trim(), context.CancellationToken);
        if (who is null)
        {
            LogUnknownKey(logger, context.Method);
            throw RpcErrors.Unauthenticated("KEY_INVALID", "The API key is unknown or revoked.");
        }

        if (!limiter.TryAcquire(who.KeyId, out var wait))
        {
            throw RpcErrors.RateLimited(wait);
        }

        if (rules.Refusal(context.Method, (IMessage)request, who) is { } refusal)
        {
            LogDenied(logger, who.KeyId, context.Method);
            throw RpcErrors.PermissionDenied(refusal);
        }

        who.AttachTo(context);
        return await continuation(request, context);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "{Method}: unknown or revoked API key.")]
    private static partial void LogUnknownKey(ILogger logger, string method);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Method}: denied to key {KeyId}.")]
    private static partial void LogDenied(ILogger logger, string keyId, string method);
}
