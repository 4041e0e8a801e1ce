using Google.Rpc;
using Grpc.Core;

namespace TaskBudgets.Governance.Api;

/// <summary>
/// The HTTP headers an HTTP/JSON client looks for on an error, which transcoding does not add:
/// <c>Retry-After</c> (whole seconds, from the error's RetryInfo) on 429 and
/// <c>WWW-Authenticate: Bearer</c> on 401. gRPC callers read the same from the status details.
/// </summary>
public static class HttpErrorHeaders
{
    /// <summary>Adds the headers <paramref name="e"/> calls for when the call came over HTTP/JSON.</summary>
    public static void Add(ServerCallContext context, RpcException e)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(e);
        var http = context.GetHttpContext();
        if (http.Request.ContentType?.StartsWith("application/grpc", StringComparison.OrdinalIgnoreCase) == true || http.Response.HasStarted)
        {
            return;
        }

        if (e.StatusCode == StatusCode.Unauthenticated)
        {
            http.Response.Headers.WWWAuthenticate = "Bearer";
        }
        else if (e.StatusCode == StatusCode.ResourceExhausted && e.GetRpcStatus()?.GetDetail<RetryInfo>() is { RetryDelay: { } delay })
        {
            // At least 1: a delay that rounds to nothing would invite an immediate retry loop.
            var seconds = Math.Max(1, (long)Math.Ceiling(delay.ToTimeSpan().TotalSeconds));
            http.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
    }
}
