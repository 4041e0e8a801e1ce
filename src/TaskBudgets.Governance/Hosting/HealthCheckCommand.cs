using System.Net;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging.Abstractions;

namespace TaskBudgets.Governance.Hosting;

/// <summary>
/// The <c>healthcheck</c> command: GET /readyz of the server these settings configure (its HTTP
/// port, over TLS when a certificate is set), for a container HEALTHCHECK in an image that has no
/// shell or curl. Exit 0 when ready, 1 otherwise, with one line saying what was asked and answered.
/// </summary>
public static class HealthCheckCommand
{
    public const string Name = "healthcheck";

    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    public static async Task<int> RunAsync(string[] args)
    {
        // The server's own configuration sources (appsettings, environment, arguments), nothing started.
        var configuration = WebApplication.CreateBuilder(args).Configuration;
        var server = configuration.GetSection(ServerOptions.Section).Get<ServerOptions>() ?? new ServerOptions();
        var tls = server.Tls.Enabled;
        var address = new UriBuilder(tls ? Uri.UriSchemeHttps : Uri.UriSchemeHttp, Loopback(server.ListenAddress), server.HttpPort, "/readyz").Uri;
        if (tls && ServerCertificates.Check(server.Tls) is { } problem)
        {
            await Console.Error.WriteLineAsync($"GET {address}: {problem}");
            return 1;
        }

        try
        {
            using var handler = tls ? TlsHandler(server.Tls) : new SocketsHttpHandler();
            using var http = new HttpClient(handler) { Timeout = Timeout };
            using var response = await http.GetAsync(address);
            var ready = response.StatusCode == HttpStatusCode.OK;
            await (ready ? Console.Out : Console.Error).WriteLineAsync($"GET {address}: {(int)response.StatusCode} {response.StatusCode}");
            return ready ? 0 : 1;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            await Console.Error.WriteLineAsync($"GET {address}: {e.Message}");
            return 1;
        }
    }

    /// <summary>Where a server listening on <paramref name="listenAddress"/> is reached from its own host.</summary>
    private static string Loopback(string listenAddress) => listenAddress switch
    {
        "localhost" or "*" or "0.0.0.0" or "::" or "[::]" => "127.0.0.1",
        _ => listenAddress,
    };

    /// <summary>
    /// Trusts exactly the certificate the server is configured with (its name need not be this
    /// host's), and presents it as the client certificate when the HTTP port requires one.
    /// </summary>
    private static SocketsHttpHandler TlsHandler(ServerTlsOptions tls)
    {
        var own = new ServerCertificates(tls, NullLogger<ServerCertificates>.Instance).Certificate;
        var handler = new SocketsHttpHandler();
        handler.SslOptions.RemoteCertificateValidationCallback = (_, presented, _, _) =>
            presented is not null && presented.GetCertHash().AsSpan().SequenceEqual(own.GetCertHash());
        if (tls.RequireClientCertificate && tls.RequireClientCertificateOnHttpPort)
        {
            handler.SslOptions.ClientCertificates = new X509CertificateCollection { own };
        }

        return handler;
    }
}
