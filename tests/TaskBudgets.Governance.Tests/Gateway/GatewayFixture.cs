using System.Globalization;
using Microsoft.AspNetCore.Builder;
using TaskBudgets.Governance.Tests.Infrastructure;
using TaskBudgets.V1;

namespace TaskBudgets.Governance.Tests.Gateway;

/// <summary>
/// The whole path a drop-in call takes: the governance service (a real process), the stub upstream
/// providers, and the gateway between them on a loopback port, configured as an operator would.
/// Each test uses its own org (listed in <see cref="Policy"/>) so its usage summary is its own.
/// </summary>
public sealed class GatewayFixture : IAsyncLifetime
{
    /// <summary>Test models of each family; a "*" rule whose numbers every assertion derives from; an org per test.</summary>
    public const string Policy = """
        models:
          - name: claude-test
            family: anthropic
            thinking: budget
            input_usd_per_mtok: 3
            output_usd_per_mtok: 15
          - name: gpt-test
            family: openai
            thinking: effort
            input_usd_per_mtok: 1.25
            output_usd_per_mtok: 10
          - name: gemini-test
            family: gemini
            thinking: budget
            min_thinking_tokens: 128
            max_thinking_tokens: 8192
            input_usd_per_mtok: 1.25
            output_usd_per_mtok: 10
        tiers:
          - name: standard
            rules:
              - task_type: "*"
                min_reasoning_tokens: 1024
                default_reasoning_tokens: 2048
                max_reasoning_tokens: 8192
                answer_tokens: 1024
                max_output_tokens: 16384
                effort: medium
                soft_limit_threshold: 1.0
              - task_type: agent
                min_reasoning_tokens: 1024
                default_reasoning_tokens: 2048
                max_reasoning_tokens: 8192
                answer_tokens: 1024
                max_output_tokens: 16384
                soft_limit_threshold: 1.0
                task_budget_tokens: 10000
        orgs:
          - { id: gw-anthropic, tier: standard }
          - { id: gw-anthropic-small, tier: standard }
          - { id: gw-anthropic-stream, tier: standard }
          - { id: gw-anthropic-cut, tier: standard }
          - { id: gw-anthropic-retry, tier: standard }
          - { id: gw-anthropic-fail, tier: standard }
          - { id: gw-openai-chat, tier: standard }
          - { id: gw-openai-chat-stream, tier: standard }
          - { id: gw-openai-responses, tier: standard }
          - { id: gw-openai-responses-stream, tier: standard }
          - { id: gw-gemini, tier: standard }
          - { id: gw-gemini-stream, tier: standard }
          - { id: gw-other, tier: standard }
          - { id: gw-http, tier: standard }
          - { id: gw-keyed, tier: standard }
          - { id: gw-dotnet-anthropic, tier: standard }
          - { id: gw-dotnet-openai, tier: standard }
          - { id: gw-dotnet-openai-stream, tier: standard }
          - id: gw-denied
            tier: standard
            quotas:
              - metric: reasoning_tokens
                window: day
                limit: 100
        """;

    private readonly TempDirectory directory = new();
    private ServerProcess? server;
    private ProviderStub? stub;
    private WebApplication? gateway;

    public ServerProcess Server => server ?? throw new InvalidOperationException("Not started.");

    public ProviderStub Upstream => stub ?? throw new InvalidOperationException("Not started.");

    public Uri GatewayAddress { get; private set; } = new("http://127.0.0.1");

    /// <summary>A caller key of org gw-keyed that the gateway's configuration gives defaults (org gw-keyed, task type agent).</summary>
    public string KeyWithDefaults { get; private set; } = string.Empty;

    /// <summary>The folder of the Node SDK clients (clients.mjs), installed from the npm cache on first use.</summary>
    public static string Clients { get; } = Path.Combine(Repository.Root, "tests", "TaskBudgets.Governance.Tests", "Gateway", "sdk-clients");

    public async ValueTask InitializeAsync()
    {
        var installed = Path.Combine(Clients, "node_modules", ".package-lock.json");
        if (!File.Exists(installed) || File.GetLastWriteTimeUtc(Path.Combine(Clients, "package-lock.json")) > File.GetLastWriteTimeUtc(installed))
        {
            (await Command.RunAsync(ToolPath.Require("npm", "for the providers' Node SDKs (apt-get install npm)"), ["ci", "--no-audit", "--no-fund", "--loglevel=error"], Clients)).Succeeded();
        }

        var policy = Path.Combine(directory.Path, "policy.yaml");
        await File.WriteAllTextAsync(policy, Policy);
        server = await ServerProcess.StartAsync(directory.Path, new Dictionary<string, string> { ["Policy:File"] = policy });
        stub = await ProviderStub.StartAsync();

        var secret = Path.Combine(directory.Path, "anthropic-key");
        await File.WriteAllTextAsync(secret, ProviderStub.AnthropicKey + "\n");
        KeyWithDefaults = await CallerKeyAsync("gw-keyed");
        var keyHash = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(KeyWithDefaults)));
        var port = FreePort.Next();
        GatewayAddress = new Uri($"http://127.0.0.1:{port}");
        gateway = TaskBudgets.Gateway.Program.Build(
        [
            "--TaskBudgets:Address=" + new Uri($"http://127.0.0.1:{server.GrpcPort}"),
            "--Gateway:ListenAddress=127.0.0.1",
            "--Gateway:Port=" + port.ToString(CultureInfo.InvariantCulture),
            "--Gateway:Anthropic:UpstreamBaseUrl=" + stub.BaseAddress,
            "--Gateway:Anthropic:ApiKeyFile=" + secret,
            "--Gateway:OpenAi:UpstreamBaseUrl=" + stub.BaseAddress,
            "--Gateway:OpenAi:ApiKey=" + ProviderStub.OpenAiKey,
            "--Gateway:Gemini:UpstreamBaseUrl=" + stub.BaseAddress,
            "--Gateway:Gemini:ApiKey=" + ProviderStub.GeminiKey,
            "--Gateway:Keys:0:KeySha256=" + keyHash,
            "--Gateway:Keys:0:Defaults:OrgId=gw-keyed",
            "--Gateway:Keys:0:Defaults:TaskType=agent",
            "--Logging:LogLevel:Default=Warning",
        ]);
        await gateway.StartAsync();
    }

    /// <summary>A caller key bound to <paramref name="org"/>, made through the admin API.</summary>
    public async Task<string> CallerKeyAsync(string org) =>
        (await Server.Admin.CreateApiKeyAsync(new CreateApiKeyRequest { Role = ApiKeyRole.Caller, OrgId = org, Description = "gateway test" })).Secret;

    /// <summary>The org's usage summary once <paramref name="settled"/> holds (the gateway reports after the caller has its answer).</summary>
    public async Task<GetUsageSummaryResponse> SummaryAsync(string org, Func<GetUsageSummaryResponse, bool> settled)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            var summary = await Server.Admin.GetUsageSummaryAsync(new GetUsageSummaryRequest { OrgId = org });
            if (settled(summary) || DateTime.UtcNow > deadline)
            {
                return summary;
            }

            await Task.Delay(50);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (gateway is not null)
        {
            await gateway.StopAsync();
            await gateway.DisposeAsync();
        }

        if (stub is not null)
        {
            await stub.DisposeAsync();
        }

        if (server is not null)
        {
            await server.DisposeAsync();
        }

        directory.Dispose();
    }
}
