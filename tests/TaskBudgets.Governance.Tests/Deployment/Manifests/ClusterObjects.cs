using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;
using TaskBudgets.Governance.Tests.Infrastructure;
using static TaskBudgets.Governance.Tests.Deployment.Manifests.RenderedChart;

namespace TaskBudgets.Governance.Tests.Deployment.Manifests;

/// <summary>
/// The Secrets and ConfigMaps a value set names but leaves to the cluster (existingSecret,
/// auth.existingSecret, the TLS Secret, the grant key Secrets, existingPolicyConfigMap), made as an
/// operator would make them: fresh random keys, a certificate from the test's CA, the policy the
/// repository ships for compose.
/// </summary>
public sealed class ClusterObjects
{
    private readonly Dictionary<string, Dictionary<string, string>> secrets = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Dictionary<string, string>> configMaps = new(StringComparer.Ordinal);

    public IEnumerable<JsonObject> Objects =>
        secrets.Select(s => Manifest("Secret", s.Key, s.Value.ToDictionary(d => d.Key, d => Convert.ToBase64String(Encoding.UTF8.GetBytes(d.Value)))))
            .Concat(configMaps.Select(c => Manifest("ConfigMap", c.Key, c.Value)));

    /// <summary>What the cluster must hold for <paramref name="chart"/>'s values; <paramref name="connectionString"/> goes into an existingSecret.</summary>
    public static ClusterObjects For(RenderedChart chart, string connectionString, TestPki pki)
    {
        ArgumentNullException.ThrowIfNull(chart);
        ArgumentNullException.ThrowIfNull(pki);
        var cluster = new ClusterObjects();
        var adminKey = chart.ValueText("secretKeys.adminKey")!;
        if (chart.ValueText("existingSecret") is { Length: > 0 } existing)
        {
            cluster.Secret(existing)[chart.ValueText("secretKeys.connectionString")!] = connectionString;
            cluster.Secret(existing)[adminKey] = NewAdminKey();
        }

        if (chart.ValueText("auth.existingSecret") is { Length: > 0 } admin)
        {
            cluster.Secret(admin)[adminKey] = NewAdminKey();
        }

        if (chart.ValueText("grants.signingKeys.existingSecret") is { Length: > 0 } signing)
        {
            cluster.Secret(signing)[chart.ValueText("grants.signingKeys.key")!] =
                new JsonArray(new JsonObject { ["Id"] = "k1", ["Key"] = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)) }).ToJsonString();
        }

        if (chart.ValueText("grants.keyEncryptionKey.existingSecret") is { Length: > 0 } encryption)
        {
            cluster.Secret(encryption)[chart.ValueText("grants.keyEncryptionKey.key")!] = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
        }

        if (chart.ValueText("tls.enabled") == "true")
        {
            // What cert-manager writes: the certificate, its key and the CA.
            using var server = pki.Server();
            using var key = server.GetECDsaPrivateKey()!;
            var tls = cluster.Secret(chart.ValueText("tls.secretName")!);
            tls[chart.ValueText("tls.certificateKey")!] = server.ExportCertificatePem();
            tls[chart.ValueText("tls.privateKeyKey")!] = key.ExportPkcs8PrivateKeyPem();
            var ca = cluster.Secret(chart.ValueText("tls.clientCa.secretName") is { Length: > 0 } caSecret ? caSecret : chart.ValueText("tls.secretName")!);
            ca[chart.ValueText("tls.clientCa.key")!] = pki.Ca.ExportCertificatePem();
        }

        if (chart.ValueText("existingPolicyConfigMap") is { Length: > 0 } policy)
        {
            cluster.configMaps[policy] = new() { ["policies.yaml"] = File.ReadAllText(Path.Combine(Repository.Root, "deploy", "policies", "policies.yaml")) };
        }

        return cluster;
    }

    /// <summary>An org of the policy the pod was given, and a model it prices: what a first caller asks with.</summary>
    public (string Org, string Model) FirstOrgAndModel(RenderedChart chart)
    {
        ArgumentNullException.ThrowIfNull(chart);
        var name = Text(Objects(chart.Deployment!["spec"]!["template"]!["spec"]!["volumes"]).Single(v => Text(v["name"]) == "policy")["configMap"]!["name"])!;
        var text = configMaps.TryGetValue(name, out var given) ? given["policies.yaml"] : Text(chart.Named("ConfigMap", name)["data"]!["policies.yaml"])!;
        var policy = Yaml.Parse(text)!;
        return (Text(policy["orgs"]![0]!["id"])!, Text(policy["models"]![0]!["name"])!);
    }

    private Dictionary<string, string> Secret(string name) =>
        secrets.TryGetValue(name, out var data) ? data : secrets[name] = new(StringComparer.Ordinal);

    private static string NewAdminKey() => "tb_" + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static JsonObject Manifest(string kind, string name, Dictionary<string, string> data) => new()
    {
        ["apiVersion"] = "v1",
        ["kind"] = kind,
        ["metadata"] = new JsonObject { ["name"] = name },
        ["data"] = new JsonObject(data.Select(d => KeyValuePair.Create(d.Key, (JsonNode?)JsonValue.Create(d.Value)))),
    };
}
