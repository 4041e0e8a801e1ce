using System.Net.Http.Headers;

namespace TaskBudgets.Gateway.Proxy;

/// <summary>
/// Sends the governance service the key of the caller the gateway is serving, so the service
/// checks it and binds the call to the key's org: the gateway holds no key of its own.
/// </summary>
internal sealed class CallerKeyHandler : DelegatingHandler
{
    private static readonly AsyncLocal<string?> Current = new();

    /// <summary>Calls to the service in the current async flow carry <paramref name="key"/>.</summary>
    public static void Use(string key) => Current.Value = key;

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (Current.Value is { } key)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }

        return base.SendAsync(request, cancellationToken);
    }
}
