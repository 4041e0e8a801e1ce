using System.Globalization;
using TaskBudgets.Cli;
using TaskBudgets.Governance.Tests.Infrastructure;

namespace TaskBudgets.Governance.Tests.Cli;

/// <summary>The CLI against a server with TLS (and mTLS) on a CA made in the test.</summary>
public sealed class CliTlsTests
{
    private static readonly string SamplePolicy = Path.Combine(Repository.Root, "src", "TaskBudgets.Governance", "policies", "policies.yaml");
    private readonly TestPki pki = new();

    [Fact]
    public async Task Over_https_the_CLI_trusts_the_CA_given_by_flag_or_environment_and_nothing_else()
    {
        using var directory = new TempDirectory();
        var (settings, ca) = Files(directory, mtls: false);
        await using var server = await ServerProcess.StartAsync(directory.Path, settings, () => pki.Handler());
        var address = $"https://localhost:{server.GrpcPort.ToString(CultureInfo.InvariantCulture)}";

        var byFlag = await CliAsync([], ["--address", address, "--key", GovernanceApp.AdminKey, "--ca-cert", ca, "orgs", "get", "demo"]);
        var byEnvironment = await CliAsync(new() { ["TASKBUDGETS_ADDRESS"] = address, ["TASKBUDGETS_API_KEY"] = GovernanceApp.AdminKey, ["TASKBUDGETS_CA_CERT"] = ca }, ["orgs", "get", "demo"]);
        var untrusted = await CliAsync([], ["--address", address, "--key", GovernanceApp.AdminKey, "orgs", "get", "demo"]);
        var plaintext = await CliAsync([], ["--address", address.Replace("https", "http", StringComparison.Ordinal), "--key", GovernanceApp.AdminKey, "--ca-cert", ca, "orgs", "get", "demo"]);

        Assert.True(byFlag.Exit == 0, byFlag.Error);
        Assert.Contains("Demo org", byFlag.Out, StringComparison.Ordinal);
        Assert.True(byEnvironment.Exit == 0, byEnvironment.Error);
        Assert.True(untrusted.Exit == ExitCodes.Unavailable, untrusted.Error);
        Assert.Equal(ExitCodes.Usage, plaintext.Exit);
        Assert.Contains("need an https:// address", plaintext.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task With_mTLS_the_CLI_gets_in_with_its_client_certificate_and_not_without()
    {
        using var directory = new TempDirectory();
        var (settings, ca) = Files(directory, mtls: true);
        var client = pki.Client();
        var (certificate, key) = (Path.Combine(directory.Path, "client.crt"), Path.Combine(directory.Path, "client.key"));
        TestPki.WritePem(client, certificate, key);
        await using var server = await ServerProcess.StartAsync(directory.Path, settings, () => pki.Handler(client));
        var address = $"https://localhost:{server.GrpcPort.ToString(CultureInfo.InvariantCulture)}";

        var withCertificate = await CliAsync([], ["--address", address, "--key", GovernanceApp.AdminKey, "--ca-cert", ca, "--client-cert", certificate, "--client-key", key, "orgs", "get", "demo"]);
        var fromEnvironment = await CliAsync(new() { ["TASKBUDGETS_CA_CERT"] = ca, ["TASKBUDGETS_CLIENT_CERT"] = certificate, ["TASKBUDGETS_CLIENT_KEY"] = key }, ["--address", address, "--key", GovernanceApp.AdminKey, "orgs", "get", "demo"]);
        var without = await CliAsync([], ["--address", address, "--key", GovernanceApp.AdminKey, "--ca-cert", ca, "orgs", "get", "demo"]);
        var halfPair = await CliAsync([], ["--address", address, "--key", GovernanceApp.AdminKey, "--ca-cert", ca, "--client-cert", certificate, "orgs", "get", "demo"]);

        Assert.True(withCertificate.Exit == 0, withCertificate.Error);
        Assert.True(fromEnvironment.Exit == 0, fromEnvironment.Error);
        Assert.True(without.Exit == ExitCodes.Unavailable, without.Error);
        Assert.Equal(ExitCodes.Usage, halfPair.Exit);
        Assert.Contains("--client-cert and --client-key go together", halfPair.Error, StringComparison.Ordinal);
    }

    private (Dictionary<string, string> Settings, string Ca) Files(TempDirectory directory, bool mtls)
    {
        var (certificate, key, ca) = (Path.Combine(directory.Path, "tls.crt"), Path.Combine(directory.Path, "tls.key"), Path.Combine(directory.Path, "ca.crt"));
        TestPki.WritePem(pki.Server(), certificate, key);
        TestPki.WriteCertificatePem(pki.Ca, ca);
        var settings = new Dictionary<string, string>
        {
            ["Policy:File"] = SamplePolicy,
            ["Server:Tls:CertificatePath"] = certificate,
            ["Server:Tls:KeyPath"] = key,
        };
        if (mtls)
        {
            settings["Server:Tls:ClientCaPath"] = ca;
            settings["Server:Tls:RequireClientCertificate"] = "true";
        }

        return (settings, ca);
    }

    private static async Task<(int Exit, string Out, string Error)> CliAsync(Dictionary<string, string?> env, string[] args)
    {
        env.TryAdd("HOME", Path.Combine(Path.GetTempPath(), "tb-no-config"));
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var exit = await CliApp.RunAsync(args, stdout, stderr, name => env.GetValueOrDefault(name), CancellationToken.None);
        return (exit, stdout.ToString(), stderr.ToString());
    }
}
