using System.Diagnostics;
using System.Globalization;
using TaskBudgets.Client;
using TaskBudgets.Gateway.Metering;
using TaskBudgets.Gateway.Providers;
using Yarp.ReverseProxy.Forwarder;

namespace TaskBudgets.Gateway.Proxy;

/// <summary>
/// Shapes one governed call on its way up (the provider credential instead of the caller's key, no
/// x-taskbudgets-* headers, an identity encoding so the answer can be read) and on its way back (a
/// successful answer is read through a meter as it streams to the caller).
/// </summary>
internal sealed class UpstreamTransformer(Provider provider, string credential, IReadOnlyDictionary<string, string> addedHeaders, BudgetGrant grant, UsageMeter meter, int maxMeteredBytes) : HttpTransformer
{
    private long sentAt;

    /// <summary>The upstream's status, or null when no answer came.</summary>
    public int? UpstreamStatus { get; private set; }

    /// <summary>Time to the upstream's response headers, or to its failure.</summary>
    public TimeSpan UpstreamLatency { get; private set; }

    /// <summary>What read a successful answer; null when the answer failed or never came.</summary>
    public AnswerTap? Tap { get; private set; }

    public override async ValueTask TransformRequestAsync(HttpContext httpContext, HttpRequestMessage proxyRequest, string destinationPrefix, CancellationToken cancellationToken)
    {
        await base.TransformRequestAsync(httpContext, proxyRequest, destinationPrefix, cancellationToken).ConfigureAwait(false);

        // Set here, not left to the forwarder, so that the provider can take the caller's key out of the query.
        proxyRequest.RequestUri ??= RequestUtilities.MakeDestinationAddress(destinationPrefix, httpContext.Request.Path, httpContext.Request.QueryString);
        foreach (var name in proxyRequest.Headers.Select(h => h.Key).Where(n => n.StartsWith(CallHeaders.Prefix, StringComparison.OrdinalIgnoreCase)).ToList())
        {
            proxyRequest.Headers.Remove(name);
        }

        // The meter reads the answer as it passes: it must come uncompressed.
        proxyRequest.Headers.Remove("accept-encoding");
        provider.SetCredential(proxyRequest, credential);
        foreach (var (name, value) in addedHeaders)
        {
            var existing = proxyRequest.Headers.TryGetValues(name, out var values) ? string.Join(',', values) : string.Empty;
            if (!existing.Split(',').Any(v => string.Equals(v.Trim(), value, StringComparison.OrdinalIgnoreCase)))
            {
                proxyRequest.Headers.Remove(name);
                proxyRequest.Headers.TryAddWithoutValidation(name, existing.Length == 0 ? value : existing + "," + value);
            }
        }

        sentAt = Stopwatch.GetTimestamp();
    }

    public override async ValueTask<bool> TransformResponseAsync(HttpContext httpContext, HttpResponseMessage? proxyResponse, CancellationToken cancellationToken)
    {
        UpstreamLatency = Stopwatch.GetElapsedTime(sentAt);
        var proceed = await base.TransformResponseAsync(httpContext, proxyResponse, cancellationToken).ConfigureAwait(false);
        if (proxyResponse is null)
        {
            return proceed;
        }

        UpstreamStatus = (int)proxyResponse.StatusCode;
        if (proxyResponse.IsSuccessStatusCode)
        {
            var events = proxyResponse.Content.Headers.ContentType?.MediaType is "text/event-stream";
            Tap = new AnswerTap(meter, events, maxMeteredBytes);
            proxyResponse.Content = new MeteredContent(proxyResponse.Content, Tap);
            var headers = httpContext.Response.Headers;
            headers["x-taskbudgets-decision"] = grant.Decision.ToString().ToUpperInvariant();
            headers["x-taskbudgets-max-output-tokens"] = grant.Budget.MaxOutputTokens.ToString(CultureInfo.InvariantCulture);
            headers["x-taskbudgets-reasoning-tokens"] = grant.Budget.ReasoningTokens.ToString(CultureInfo.InvariantCulture);
        }

        return proceed;
    }
}
