using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.DependencyInjection;
using TaskBudgets.Client;
using TaskBudgets.Governance.Tests.Infrastructure;

namespace TaskBudgets.Governance.Tests.Processes;

/// <summary>
/// TLS on both ports of a real server process, with certificates made here: the SDK and
/// grpc-js get budgets over it, client certificates are checked against the CA, a rotated
/// certificate is served without a restart, and the gRPC port answers gRPC only.
/// </summary>
public sealed class TlsTests
{
    private static readonly string SamplePolicy = Path.Combine(Repository.Root, "src", "TaskBudgets.Governance", "policies", "policies.yaml");
    private readonly TestPki pki = new();

    [Fact]
    public async Task The_SDK_and_grpc_js_get_a_budget_over_TLS_trusting_the_test_CA()
    {
        using var directory = new TempDirectory();
        var files = Files(directory, pki.Server());
        await using var server = await ServerProcess.StartAsync(directory.Path, files.Settings(), () => pki.Handler());
        Assert.Equal("https", server.HttpAddress.Scheme);

        await AssertSdkGetsABudgetAsync(server, pki.Handler());
        var node = await RunNodeAsync(server, files.Ca);
        Assert.True(node.ExitCode == 0 && node.Output.Contains("settlement: ", StringComparison.Ordinal), $"{node.Output}\n--- server:\n{server.Output}");

        // Plaintext is not served any more on either port.
        using var plain = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        await Assert.ThrowsAnyAsync<HttpRequestException>(() => plain.GetAsync(new Uri($"http://127.0.0.1:{server.HttpPort}/readyz")));
    }

    [Fact]
    public async Task With_mTLS_a_client_without_a_certificate_or_with_an_untrusted_one_is_refused()
    {
        using var directory = new TempDirectory();
        var files = Files(directory, pki.Server(), clientCa: true);
        var trusted = pki.Client();
        await using var server = await ServerProcess.StartAsync(directory.Path, files.Settings(mtls: true), () => pki.Handler(trusted));

        await AssertSdkGetsABudgetAsync(server, pki.Handler(trusted));
        TestPki.WritePem(trusted, Path.Combine(directory.Path, "client.crt"), Path.Combine(directory.Path, "client.key"));
        var node = await RunNodeAsync(server, files.Ca, Path.Combine(directory.Path, "client.crt"), Path.Combine(directory.Path, "client.key"));
        Assert.True(node.ExitCode == 0 && node.Output.Contains("settlement: ", StringComparison.Ordinal), $"{node.Output}\n--- server:\n{server.Output}");

        await AssertRefusedAsync(server, pki.Handler());
        await AssertRefusedAsync(server, pki.Handler(TestPki.SelfSignedClient()));
        var anonymousNode = await RunNodeAsync(server, files.Ca);
        Assert.NotEqual(0, anonymousNode.ExitCode);

        // The HTTP port requires one too, unless RequireClientCertificateOnHttpPort is false.
        using var http = new HttpClient(pki.Handler()) { Timeout = TimeSpan.FromSeconds(10) };
        await Assert.ThrowsAnyAsync<HttpRequestException>(() => http.GetAsync(new Uri(server.HttpAddress, "/readyz")));
    }

    [Fact]
    public async Task A_rotated_certificate_is_served_to_new_connections_without_a_restart()
    {
        using var directory = new TempDirectory();
        var first = pki.Server();
        var files = Files(directory, first);
        var settings = files.Settings();
        settings["Server:Tls:ReloadInterval"] = "00:00:00.200";
        await using var server = await ServerProcess.StartAsync(directory.Path, settings, () => pki.Handler());
        Assert.Equal(first.SerialNumber, await HandshakeAsync(server.GrpcPort));

        var second = pki.Server();
        Assert.NotEqual(first.SerialNumber, second.SerialNumber);
        TestPki.WritePem(second, files.Certificate, files.Key);

        var deadline = DateTime.UtcNow.AddSeconds(15);
        string grpcSerial, httpSerial;
        do
        {
            await Task.Delay(250);
            grpcSerial = await HandshakeAsync(server.GrpcPort);
            httpSerial = await HandshakeAsync(server.HttpPort);
        }
        while ((grpcSerial != second.SerialNumber || httpSerial != second.SerialNumber) && DateTime.UtcNow < deadline);

        Assert.Equal(second.SerialNumber, grpcSerial);
        Assert.Equal(second.SerialNumber, httpSerial);
        await AssertSdkGetsABudgetAsync(server, pki.Handler());
        Assert.Contains(second.SerialNumber, server.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_PFX_file_is_served_too()
    {
        using var directory = new TempDirectory();
        var certificate = pki.Server();
        var pfx = Path.Combine(directory.Path, "server.pfx");
        TestPki.WritePfx(certificate, pfx, "test-password");
        var settings = new Dictionary<string, string>
        {
            ["Policy:File"] = SamplePolicy,
            ["Server:Tls:PfxPath"] = pfx,
            ["Server:Tls:Password"] = "test-password",
        };
        await using var server = await ServerProcess.StartAsync(directory.Path, settings, () => pki.Handler());

        Assert.Equal(certificate.SerialNumber, await HandshakeAsync(server.GrpcPort));
        await AssertSdkGetsABudgetAsync(server, pki.Handler());
    }

    [Theory]
    [InlineData(false, HttpStatusCode.NotFound)]
    [InlineData(true, HttpStatusCode.OK)]
    public async Task The_gRPC_port_answers_metrics_and_HTTP_JSON_only_when_configured_to(bool servesHttpRoutes, HttpStatusCode expected)
    {
        using var directory = new TempDirectory();
        var settings = new Dictionary<string, string>
        {
            ["Policy:File"] = SamplePolicy,
            ["Server:GrpcPortServesHttpRoutes"] = servesHttpRoutes ? "true" : "false",
        };
        await using var server = await ServerProcess.StartAsync(directory.Path, settings);
        using var h2c = new HttpClient { DefaultRequestVersion = HttpVersion.Version20, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact, Timeout = TimeSpan.FromSeconds(10) };
        var grpcPort = new Uri($"http://127.0.0.1:{server.GrpcPort}");

        using var metrics = await h2c.GetAsync(new Uri(grpcPort, "/metrics"));
        using var json = new HttpRequestMessage(HttpMethod.Post, new Uri(grpcPort, "/v1/orgs/demo/budget:get"))
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new StringContent("""{"taskType":"support","model":"claude-sonnet-4-5"}""", System.Text.Encoding.UTF8, "application/json"),
        };
        json.Headers.Authorization = new("Bearer", GovernanceApp.AdminKey);
        using var jsonAnswer = await h2c.SendAsync(json);

        Assert.Equal(expected, metrics.StatusCode);
        Assert.Equal(expected, jsonAnswer.StatusCode);

        // gRPC and gRPC health still answer there; /metrics still answers on the HTTP port.
        var health = new Grpc.Health.V1.Health.HealthClient(server.Channel);
        Assert.Equal(Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus.Serving, (await health.CheckAsync(new Grpc.Health.V1.HealthCheckRequest())).Status);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(new Uri(server.HttpAddress, "/metrics"))).StatusCode);
    }

    [Theory]
    [InlineData("missing-cert", "Server:Tls:CertificatePath: cannot read")]
    [InlineData("garbage-cert", "is not a certificate and its private key")]
    [InlineData("no-key", "Server:Tls:CertificatePath and Server:Tls:KeyPath go together")]
    [InlineData("require-without-ca", "Server:Tls:RequireClientCertificate needs Server:Tls:ClientCaPath")]
    [InlineData("missing-ca", "Server:Tls:ClientCaPath: cannot read")]
    public async Task Missing_or_unreadable_TLS_files_stop_the_start_with_one_line(string problem, string named)
    {
        using var directory = new TempDirectory();
        var files = Files(directory, pki.Server(), clientCa: true);
        var settings = files.Settings();
        switch (problem)
        {
            case "missing-cert":
                settings["Server:Tls:CertificatePath"] = Path.Combine(directory.Path, "absent.crt");
                break;
            case "garbage-cert":
                File.WriteAllText(files.Certificate, "not a certificate");
                break;
            case "no-key":
                settings.Remove("Server:Tls:KeyPath");
                break;
            case "require-without-ca":
                settings.Remove("Server:Tls:ClientCaPath");
                settings["Server:Tls:RequireClientCertificate"] = "true";
                break;
            case "missing-ca":
                settings["Server:Tls:ClientCaPath"] = Path.Combine(directory.Path, "absent-ca.crt");
                break;
        }

        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => ServerProcess.StartAsync(directory.Path, settings));

        Assert.Contains("the server exited with 1:", refused.Message, StringComparison.Ordinal);
        var line = Assert.Single(refused.Message.Split('\n'), l => l.StartsWith("Configuration error: ", StringComparison.Ordinal));
        Assert.Contains(named, line, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", refused.Message, StringComparison.Ordinal);
    }

    private TlsFiles Files(TempDirectory directory, X509Certificate2 server, bool clientCa = false)
    {
        var files = new TlsFiles(Path.Combine(directory.Path, "tls.crt"), Path.Combine(directory.Path, "tls.key"), Path.Combine(directory.Path, "ca.crt"), clientCa);
        TestPki.WritePem(server, files.Certificate, files.Key);
        TestPki.WriteCertificatePem(pki.Ca, files.Ca);
        return files;
    }

    private static async Task AssertSdkGetsABudgetAsync(ServerProcess server, HttpMessageHandler handler)
    {
        var services = new ServiceCollection();
        services.AddTaskBudgetsClient(o =>
        {
            o.Address = new Uri($"https://127.0.0.1:{server.GrpcPort}");
            o.ApiKey = GovernanceApp.AdminKey;
            o.OrgId = "demo";
            o.Deadline = TimeSpan.FromSeconds(10);
        }).ConfigurePrimaryHttpMessageHandler(() => handler);
        await using var provider = services.BuildServiceProvider();
        var budgets = provider.GetRequiredService<IBudgetClient>();

        await using var grant = await budgets.AcquireAsync(new BudgetRequest { TaskType = "support", Model = "claude-sonnet-4-5" });

        Assert.Equal(TaskBudgets.Client.BudgetDecision.Granted, grant.Decision);
        Assert.False(grant.IsFallback);
    }

    private static async Task AssertRefusedAsync(ServerProcess server, HttpMessageHandler handler)
    {
        using var channel = GrpcChannel.ForAddress($"https://127.0.0.1:{server.GrpcPort}", new GrpcChannelOptions { HttpHandler = handler, DisposeHttpClient = true });
        var health = new Grpc.Health.V1.Health.HealthClient(channel);
        var refused = await Assert.ThrowsAsync<RpcException>(async () => await health.CheckAsync(new Grpc.Health.V1.HealthCheckRequest(), deadline: DateTime.UtcNow.AddSeconds(10)));
        Assert.NotEqual(StatusCode.DeadlineExceeded, refused.StatusCode);
    }

    /// <summary>A TLS handshake with the port, trusting the test CA; returns the serial number of the certificate the server sent.</summary>
    private async Task<string> HandshakeAsync(int port)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, port);
        await using var tls = new SslStream(tcp.GetStream());
        string? seen = null;
        var ca = pki.Ca;
        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = "localhost",
            RemoteCertificateValidationCallback = (_, certificate, _, _) =>
            {
                if (certificate is not X509Certificate2 server)
                {
                    return false;
                }

                seen = server.SerialNumber;
                using var chain = new X509Chain();
                chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.CustomTrustStore.Add(ca);
                chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                return chain.Build(server);
            },
        });
        return seen ?? throw new InvalidOperationException("no server certificate");
    }

    private static async Task<CommandResult> RunNodeAsync(ServerProcess server, string ca, string? certificate = null, string? key = null)
    {
        var folder = Path.Combine(Repository.Root, "examples", "node");
        var installed = Path.Combine(folder, "node_modules", ".package-lock.json");
        if (!File.Exists(installed) || File.GetLastWriteTimeUtc(Path.Combine(folder, "package-lock.json")) > File.GetLastWriteTimeUtc(installed))
        {
            (await Command.RunAsync(ToolPath.Require("npm", "for the Node example (apt-get install npm)"), ["ci", "--no-audit", "--no-fund", "--loglevel=error"], folder)).Succeeded();
        }

        var environment = new Dictionary<string, string>
        {
            // The name the server certificate is for; grpc-js checks it.
            ["TASKBUDGETS_ADDRESS"] = "localhost:" + server.GrpcPort.ToString(CultureInfo.InvariantCulture),
            ["TASKBUDGETS_ORG"] = "demo",
            ["TASKBUDGETS_API_KEY"] = GovernanceApp.AdminKey,
            ["TASKBUDGETS_CA_FILE"] = ca,
        };
        if (certificate is not null && key is not null)
        {
            environment["TASKBUDGETS_CERT_FILE"] = certificate;
            environment["TASKBUDGETS_KEY_FILE"] = key;
        }

        return await Command.RunAsync(ToolPath.Require("node", "for the Node example (apt-get install nodejs)"), ["index.js"], folder, environment, TimeSpan.FromMinutes(2));
    }

    private sealed record TlsFiles(string Certificate, string Key, string Ca, bool ClientCa)
    {
        public Dictionary<string, string> Settings(bool mtls = false)
        {
            var settings = new Dictionary<string, string>
            {
                ["Policy:File"] = SamplePolicy,
                ["Server:Tls:CertificatePath"] = Certificate,
                ["Server:Tls:KeyPath"] = Key,
            };
            if (ClientCa)
            {
                settings["Server:Tls:ClientCaPath"] = Ca;
            }

            if (mtls)
            {
                settings["Server:Tls:RequireClientCertificate"] = "true";
            }

            return settings;
        }
    }
}
