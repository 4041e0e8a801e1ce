using Google.Protobuf;
using Grpc.AspNetCore.Server;
using Grpc.Core;
using TaskBudgets.Governance.Api;
using TaskBudgets.Governance.Contract;
using TaskBudgets.Governance.Telemetry;

namespace TaskBudgets.Governance.Auth;

/// <summary>
/// Every RPC of BudgetService and AdminService needs `authorization: Bearer &lt;key&gt;`: no key or an
/// unknown or revoked one is UNAUTHENTICATED; a key past its request rate is RESOURCE_EXHAUSTED
/// with RetryInfo; a key the <see cref="AccessRules"/> table refuses is PERMISSION_DENIED. Health
/// and reflection stay open. Nothing runs, so nothing changes, unless all three pass. A client
/// address past its failed authentications (<see cref="FailedAuthentications"/>) is
/// RESOURCE_EXHAUSTED with RetryInfo for anything but a key already known to this replica.
/// </summary>
public sealed partial class CallAuthorization(KeyDirectory keys, AccessRules rules, RequestRateLimiter limiter, FailedAuthentications failures, ILogger<CallAuthorization> logger)
{
    private const string Scheme = "Bearer ";

    /// <summary>Checks the call's key, rate and access; completes synchronously for a key known here.</summary>
    /// <param name="request">The call's request; null for a streaming call, which only admin keys pass.</param>
    /// <exception cref="RpcException">The call may not go on: why, as the caller is to see it.</exception>
    public async ValueTask AuthorizeAsync(ServerCallContext context, IMessage? request)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (!AccessRules.Protects(context.Method))
        {
            return;
        }

        // From the HTTP request: context.RequestHeaders would first copy every header of the call.
        var http = context.GetHttpContext();
        var values = http.Request.Headers.Authorization;
        var header = values.Count > 0 ? values[0] : null;
        if (header is null || !header.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase))
        {
            throw Failed(http, context.Method, "no key", RpcErrors.Unauthenticated("KEY_MISSING", "This call needs an API key: send the header 'authorization: Bearer <key>'."));
        }

        // A key known here passes without the database and whatever its address did; anything else
        // costs a lookup only while the address has failures left.
        var known = keys.Cached(header.AsSpan(Scheme.Length).Trim(), out var who);
        if (known == KeyDirectory.Known.Unseen)
        {
            if (!failures.MayTry(FailedAuthentications.Partition(http.Connection.RemoteIpAddress), out _))
            {
                throw Failed(http, context.Method, "not looked up", null);
            }

            who = await keys.LookUpAsync(header.AsSpan(Scheme.Length).Trim(), context.CancellationToken);
        }

        if (who is null)
        {
            throw Failed(http, context.Method, "unknown or revoked key", RpcErrors.Unauthenticated("KEY_INVALID", "The API key is unknown or revoked."));
        }

        if (!limiter.TryAcquire(who.KeyId, out var wait))
        {
            throw RpcErrors.RateLimited(wait);
        }

        if (rules.Refusal(context.Method, request, who) is { } refusal)
        {
            using (CallTrace.Begin(logger, context))
            {
                LogDenied(logger, who.KeyId, context.Method);
            }

            throw RpcErrors.PermissionDenied(refusal);
        }

        who.AttachTo(context);
    }

    // Counts the failure against the client's address: within its limit the call gets
    // <paramref name="refusal"/>, past it RESOURCE_EXHAUSTED with the wait.
    private RpcException Failed(HttpContext http, string method, string reason, RpcException? refusal)
    {
        var address = FailedAuthentications.Partition(http.Connection.RemoteIpAddress);
        return failures.Fail(address, method, reason, out var wait) && refusal is not null ? refusal : RpcErrors.AuthenticationsLimited(wait);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "{Method}: denied to key {KeyId}.")]
    private static partial void LogDenied(ILogger logger, string keyId, string method);
}
