using System.Globalization;
using TaskBudgets.Governance.Tests.Infrastructure;

namespace TaskBudgets.Governance.Tests.Examples;

/// <summary>
/// The example clients against a server with TLS on a CA made in the test, configured only by the
/// environment examples/README.md documents (TASKBUDGETS_CA_FILE, _CERT_FILE, _KEY_FILE). The Node
/// client is run the same way in Processes/TlsTests.
/// </summary>
public sealed class ExampleTlsTests : IAsyncLifetime
{
    private static readonly string Examples = Path.Combine(Repository.Root, "examples");
    private readonly TestPki pki = new();
    private readonly TempDirectory directory = new();
    private ServerProcess? server;
    private string ca = "";
    private (string Certificate, string Key) client;

    public async ValueTask InitializeAsync()
    {
        var (certificate, key) = (Path.Combine(directory.Path, "tls.crt"), Path.Combine(directory.Path, "tls.key"));
        ca = Path.Combine(directory.Path, "ca.crt");
        client = (Path.Combine(directory.Path, "client.crt"), Path.Combine(directory.Path, "client.key"));
        TestPki.WritePem(pki.Server(), certificate, key);
        TestPki.WriteCertificatePem(pki.Ca, ca);
        var clientCertificate = pki.Client();
        TestPki.WritePem(clientCertificate, client.Certificate, client.Key);

        // mTLS on the gRPC port; server-only TLS on the HTTP port (curl.sh shows both).
        server = await ServerProcess.StartAsync(directory.Path, new Dictionary<string, string>
        {
            ["Policy:File"] = Path.Combine(Repository.Root, "src", "TaskBudgets.Governance", "policies", "policies.yaml"),
            ["Server:Tls:CertificatePath"] = certificate,
            ["Server:Tls:KeyPath"] = key,
            ["Server:Tls:ClientCaPath"] = ca,
            ["Server:Tls:RequireClientCertificate"] = "true",
            ["Server:Tls:RequireClientCertificateOnHttpPort"] = "false",
        }, () => pki.Handler(clientCertificate));
    }

    public async ValueTask DisposeAsync()
    {
        if (server is not null)
        {
            await server.DisposeAsync();
        }

        directory.Dispose();
    }

    [Fact]
    public async Task Python_client_gets_a_budget_over_mTLS_and_is_refused_without_its_certificate()
    {
        var folder = Path.Combine(Examples, "python");
        (await Command.RunAsync("bash", ["generate.sh"], folder, new Dictionary<string, string> { ["PYTHON"] = "/usr/bin/python3" })).Succeeded();

        await AssertSettlesAsync("/usr/bin/python3", ["client.py"], folder, Environment(withClientCertificate: true));
        var refused = await Command.RunAsync("/usr/bin/python3", ["client.py"], folder, Environment(withClientCertificate: false), TimeSpan.FromMinutes(2));
        Assert.NotEqual(0, refused.ExitCode);
    }

    [Fact]
    public async Task Go_client_gets_a_budget_over_mTLS()
    {
        ToolPath.Require("go", "for the Go example (apt-get install golang-go golang-google-grpc-dev protoc-gen-go protoc-gen-go-grpc)");
        await AssertSettlesAsync("bash", ["run.sh"], Path.Combine(Examples, "go"), Environment(withClientCertificate: true));
    }

    [Fact]
    public async Task Curl_client_gets_a_budget_over_https_trusting_the_CA_file()
    {
        ToolPath.Require("curl", "for the curl example (apt-get install curl)");
        await AssertSettlesAsync("bash", ["curl.sh"], Examples, Environment(withClientCertificate: false));
        var untrusted = await Command.RunAsync("bash", ["curl.sh"], Examples, Environment(withClientCertificate: false, caFile: false), TimeSpan.FromMinutes(2));
        Assert.NotEqual(0, untrusted.ExitCode);
    }

    private Dictionary<string, string> Environment(bool withClientCertificate, bool caFile = true)
    {
        var environment = new Dictionary<string, string>
        {
            // The name the server certificate is for, which the clients check.
            ["TASKBUDGETS_ADDRESS"] = "localhost:" + server!.GrpcPort.ToString(CultureInfo.InvariantCulture),
            ["TASKBUDGETS_HTTP"] = "https://localhost:" + server.HttpPort.ToString(CultureInfo.InvariantCulture),
            ["TASKBUDGETS_ORG"] = "demo",
            ["TASKBUDGETS_API_KEY"] = GovernanceApp.AdminKey,
        };
        if (caFile)
        {
            environment["TASKBUDGETS_CA_FILE"] = ca;
        }

        if (withClientCertificate)
        {
            environment["TASKBUDGETS_CERT_FILE"] = client.Certificate;
            environment["TASKBUDGETS_KEY_FILE"] = client.Key;
        }

        return environment;
    }

    private async Task AssertSettlesAsync(string file, string[] arguments, string folder, Dictionary<string, string> environment)
    {
        var output = (await Command.RunAsync(file, arguments, folder, environment, TimeSpan.FromMinutes(3))).Succeeded();
        Assert.True(output.Split('\n').Any(l => l.StartsWith("settlement: ", StringComparison.Ordinal)), $"No settlement line:\n{output}\n--- server:\n{server!.Output}");
    }
}
