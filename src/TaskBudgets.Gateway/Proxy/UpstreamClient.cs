using System.Diagnostics;
using System.Net;
using Microsoft.Extensions.Options;
using TaskBudgets.Gateway.Settings;
using Yarp.ReverseProxy.Forwarder;

namespace TaskBudgets.Gateway.Proxy;

/// <summary>The one connection pool to the providers, set up as YARP advises for a proxy: no proxy, redirects, cookies or decompression.</summary>
internal sealed class UpstreamClient : IDisposable
{
    public UpstreamClient(IOptions<GatewayOptions> options)
    {
        Invoker = new HttpMessageInvoker(new SocketsHttpHandler
        {
            UseProxy = false,
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            UseCookies = false,
            EnableMultipleHttp2Connections = true,
            ActivityHeadersPropagator = new ReverseProxyPropagator(DistributedContextPropagator.Current),
            ConnectTimeout = TimeSpan.FromSeconds(15),
        });
        RequestConfig = new ForwarderRequestConfig { ActivityTimeout = options.Value.UpstreamIdleTimeout };
    }

    public HttpMessageInvoker Invoker { get; }

    public ForwarderRequestConfig RequestConfig { get; }

    public void Dispose() => Invoker.Dispose();
}
