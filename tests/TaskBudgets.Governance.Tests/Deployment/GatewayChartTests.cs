using System.Text.Json.Nodes;
using TaskBudgets.Governance.Tests.Deployment.Manifests;
using TaskBudgets.Governance.Tests.Infrastructure;
using static TaskBudgets.Governance.Tests.Deployment.Manifests.RenderedChart;

namespace TaskBudgets.Governance.Tests.Deployment;

/// <summary>The chart's gateway (gateway.enabled): beside the service, reaching it, its provider keys as files.</summary>
public sealed class GatewayChartTests
{
    private const string Enabled = """
        database:
          connectionString: "Server=db;Database=taskbudgets"
        gateway:
          enabled: true
          providerSecret:
            name: llm-provider-keys
          gemini:
            enabled: false
          defaults:
            orgId: demo
        """;

    [Fact]
    public async Task The_gateway_is_off_by_default()
    {
        var chart = await HelmChart.RenderAsync(HelmChart.CiValues("default-sqlserver-values"));

        Assert.DoesNotContain(chart.Manifests, m => Text(m["metadata"]?["name"])?.EndsWith("-gateway", StringComparison.Ordinal) == true);
    }

    [Fact]
    public async Task An_enabled_gateway_reaches_the_service_and_reads_its_provider_keys_from_the_secret_as_files()
    {
        using var directory = new TempDirectory();
        var chart = await HelmChart.RenderAsync(HelmChart.WriteValues(directory.Path, Enabled));

        var gateway = chart.Named("Deployment", $"{HelmChart.Release}-taskbudgets-gateway");
        var server = chart.Named("Deployment", $"{HelmChart.Release}-taskbudgets");
        var pod = gateway["spec"]!["template"]!["spec"]!;
        var container = Objects(pod["containers"]).Single();
        var env = Objects(container["env"]).ToDictionary(e => Text(e["name"])!, e => Text(e["value"]));

        Assert.Equal($"http://{HelmChart.Release}-taskbudgets:8080", env["TaskBudgets__Address"]);
        Assert.Equal("/etc/taskbudgets-gateway/anthropic", env["Gateway__Anthropic__ApiKeyFile"]);
        Assert.Equal("/etc/taskbudgets-gateway/openAi", env["Gateway__OpenAi__ApiKeyFile"]);
        Assert.Equal("false", env["Gateway__Gemini__Enabled"]);
        Assert.False(env.ContainsKey("Gateway__Gemini__ApiKeyFile"));
        Assert.Equal("demo", env["Gateway__Defaults__OrgId"]);
        Assert.DoesNotContain(env.Keys, k => k.EndsWith("__ApiKey", StringComparison.Ordinal));
        var keys = Objects(pod["volumes"]).Single(v => Text(v["name"]) == "provider-keys")["secret"]!;
        Assert.Equal("llm-provider-keys", Text(keys["secretName"]));
        Assert.Equal(["anthropic", "openAi"], Objects(keys["items"]).Select(i => Text(i["path"])));
        Assert.Equal("/readyz", Text(container["readinessProbe"]!["httpGet"]!["path"]));

        // Neither workload's selector takes the other's pods, and the gateway's Service selects only the gateway.
        var gatewayLabels = (JsonObject)pod.Parent!["metadata"]!["labels"]!;
        var serverLabels = (JsonObject)server["spec"]!["template"]!["metadata"]!["labels"]!;
        Assert.False(Selects((JsonObject)server["spec"]!["selector"]!["matchLabels"]!, gatewayLabels), "The service's Deployment selects the gateway's pods.");
        Assert.False(Selects((JsonObject)gateway["spec"]!["selector"]!["matchLabels"]!, serverLabels), "The gateway's Deployment selects the service's pods.");
        var service = chart.Named("Service", $"{HelmChart.Release}-taskbudgets-gateway");
        Assert.True(Selects((JsonObject)service["spec"]!["selector"]!, gatewayLabels));
        Assert.False(Selects((JsonObject)chart.Named("Service", $"{HelmChart.Release}-taskbudgets")["spec"]!["selector"]!, gatewayLabels), "The service's Service routes to the gateway.");
    }

    [Fact]
    public async Task An_enabled_gateway_without_a_provider_secret_is_refused_with_a_line_naming_it()
    {
        using var directory = new TempDirectory();
        var values = HelmChart.WriteValues(directory.Path, Enabled.Replace("name: llm-provider-keys", "name: \"\"", StringComparison.Ordinal));
        var result = await HelmChart.HelmAsync([.. HelmChart.TemplateArguments(), "-f", values]);

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("gateway.providerSecret.name", result.Output, StringComparison.Ordinal);
    }

    private static bool Selects(JsonObject selector, JsonObject labels) =>
        selector.All(s => Text(labels[s.Key]) == Text(s.Value));
}
