using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using TaskBudgets.Client;
using TaskBudgets.Governance.Tests.Infrastructure;
using TaskBudgets.V1;

namespace TaskBudgets.Governance.Tests.Gateway;

/// <summary>
/// The providers' official Node SDKs, unmodified, call through the gateway: what reaches the
/// upstream is the request rewritten with the grant and the provider credential, and what the
/// service settles is the usage the answer carried, once.
/// </summary>
/// <remarks>
/// The rule every grant here comes from ("*" of <see cref="GatewayFixture.Policy"/>): a default
/// reasoning budget of 2048 tokens plus 1024 answer tokens, so max output 3072, effort medium.
/// </remarks>
public sealed class GatewaySdkTests(GatewayFixture gateway) : IClassFixture<GatewayFixture>
{
    private const long GrantedOutput = 3072;
    private const long GrantedReasoning = 2048;

    [Fact]
    public async Task Anthropic_SDK_call_goes_up_with_the_grant_and_the_provider_key_and_settles_its_usage()
    {
        var (result, key) = await RunAsync("anthropic-plain", "gw-anthropic");

        Assert.Equal("Hello there.", result.GetProperty("text").GetString());
        var sent = Assert.Single(gateway.Upstream.For("gw-anthropic"));
        Assert.Equal("/v1/messages", sent.PathAndQuery);
        Assert.Equal(GrantedOutput, Number(sent.Body["max_tokens"]));
        Assert.Equal("enabled", sent.Body["thinking"]!["type"]!.GetValue<string>());
        Assert.Equal(GrantedReasoning, Number(sent.Body["thinking"]!["budget_tokens"]));
        Assert.Equal(ProviderStub.AnthropicKey, sent.Headers["x-api-key"]);
        AssertNothingOfTheCaller(sent, key);

        var summary = await gateway.SummaryAsync("gw-anthropic", s => s.Reports >= 1);
        Assert.Equal(1, summary.Reports);
        AssertUsed(Usage.FromAnthropic(25, 150, cacheCreationInputTokens: 5, cacheReadInputTokens: 10), summary);
    }

    [Fact]
    public async Task Anthropic_call_that_asks_for_less_than_the_grant_keeps_what_it_asked()
    {
        await RunAsync("anthropic-small", "gw-anthropic-small");

        var sent = Assert.Single(gateway.Upstream.For("gw-anthropic-small"));
        Assert.Equal(500, Number(sent.Body["max_tokens"]));
        Assert.False(sent.Body.ContainsKey("thinking"), "The gateway turned on thinking the caller did not ask for.");
    }

    [Fact]
    public async Task Anthropic_stream_passes_through_and_its_message_delta_usage_is_settled()
    {
        var (result, _) = await RunAsync("anthropic-stream", "gw-anthropic-stream");

        Assert.Equal("Hello there.", result.GetProperty("text").GetString());
        Assert.Equal(150, result.GetProperty("usage").GetProperty("output_tokens").GetInt64());
        Assert.Equal(GrantedOutput, Number(Assert.Single(gateway.Upstream.For("gw-anthropic-stream")).Body["max_tokens"]));
        var summary = await gateway.SummaryAsync("gw-anthropic-stream", s => s.Reports >= 1);
        Assert.Equal(1, summary.Reports);
        AssertUsed(Usage.FromAnthropic(25, 150), summary);
    }

    [Fact]
    public async Task A_stream_the_caller_leaves_mid_answer_is_reported_with_what_streamed()
    {
        // The stub sends three deltas and then waits for the caller to leave: the caller can only
        // see them if the gateway passes each chunk through as it comes.
        var (result, _) = await RunAsync("anthropic-cut", "gw-anthropic-cut", "cut");

        Assert.Equal(3, result.GetProperty("deltas").GetInt32());
        var summary = await gateway.SummaryAsync("gw-anthropic-cut", s => s.Reports >= 1);
        Assert.Equal(1, summary.Reports);
        Assert.Equal(0, summary.Releases);

        // message_start's input, and the three deltas as the output so far.
        AssertUsed(Usage.FromAnthropic(25, 3), summary);
    }

    [Fact]
    public async Task A_call_the_SDK_retries_after_an_upstream_failure_is_settled_once()
    {
        await RunAsync("anthropic-retry", "gw-anthropic-retry", "fail-once");

        Assert.Equal(2, gateway.Upstream.For("gw-anthropic-retry").Count);
        var summary = await gateway.SummaryAsync("gw-anthropic-retry", s => s.Reports >= 1 && s.Releases >= 1);
        Assert.Equal(1, summary.Reports);
        Assert.Equal(1, summary.Releases);
        AssertUsed(Usage.FromAnthropic(25, 150, cacheCreationInputTokens: 5, cacheReadInputTokens: 10), summary);
        Assert.Equal(0, summary.Reserved.OutputTokens);
    }

    [Fact]
    public async Task A_failed_upstream_call_releases_its_grant()
    {
        var (result, _) = await RunAsync("anthropic-fail", "gw-anthropic-fail", "fail");

        Assert.True(result.GetProperty("failed").GetBoolean());
        Assert.Equal(500, result.GetProperty("status").GetInt32());
        var summary = await gateway.SummaryAsync("gw-anthropic-fail", s => s.Releases >= 1);
        Assert.Equal(1, summary.Releases);
        Assert.Equal(0, summary.Reports);
        Assert.Equal(0, summary.Reserved.OutputTokens);
    }

    [Theory]
    [InlineData("anthropic-denied")]
    [InlineData("openai-denied")]
    [InlineData("gemini-denied")]
    public async Task A_denial_answers_429_with_Retry_After_in_the_providers_own_error_shape(string scenario)
    {
        var test = "gw-denied-" + scenario;
        var key = await gateway.CallerKeyAsync("gw-denied");
        var result = await NodeAsync(scenario, "gw-denied", test, key, "ok");

        Assert.True(result.GetProperty("failed").GetBoolean(), result.ToString());
        Assert.Equal(429, result.GetProperty("status").GetInt32());
        Assert.Empty(gateway.Upstream.For(test));
        switch (scenario)
        {
            case "anthropic-denied":
                Assert.Equal("rate_limit_error", result.GetProperty("error").GetProperty("error").GetProperty("type").GetString());
                Assert.True(long.Parse(result.GetProperty("retryAfter").GetString()!, CultureInfo.InvariantCulture) > 0);
                break;
            case "openai-denied":
                Assert.Equal("budget_exhausted", result.GetProperty("error").GetProperty("code").GetString());
                Assert.True(long.Parse(result.GetProperty("retryAfter").GetString()!, CultureInfo.InvariantCulture) > 0);
                break;
            default:
                Assert.Contains("RESOURCE_EXHAUSTED", result.GetProperty("message").GetString(), StringComparison.Ordinal);
                break;
        }
    }

    [Fact]
    public async Task OpenAI_chat_completion_gets_the_granted_cap_and_a_lower_effort_and_settles_its_usage()
    {
        var (result, key) = await RunAsync("openai-chat", "gw-openai-chat");

        Assert.Equal("Hello there.", result.GetProperty("text").GetString());
        var sent = Assert.Single(gateway.Upstream.For("gw-openai-chat"));
        Assert.Equal(GrantedOutput, Number(sent.Body["max_completion_tokens"]));
        Assert.Equal("medium", sent.Body["reasoning_effort"]!.GetValue<string>());
        Assert.Equal("Bearer " + ProviderStub.OpenAiKey, sent.Headers["authorization"]);
        AssertNothingOfTheCaller(sent, key);
        var summary = await gateway.SummaryAsync("gw-openai-chat", s => s.Reports >= 1);
        AssertUsed(Usage.FromOpenAi(40, 120, cachedTokens: 8, reasoningTokens: 64), summary);
    }

    [Fact]
    public async Task OpenAI_chat_stream_is_asked_for_its_usage_chunk_and_settles_it()
    {
        var (result, _) = await RunAsync("openai-chat-stream", "gw-openai-chat-stream");

        Assert.Equal("Hello there.", result.GetProperty("text").GetString());
        var sent = Assert.Single(gateway.Upstream.For("gw-openai-chat-stream"));
        Assert.True(sent.Body["stream_options"]!["include_usage"]!.GetValue<bool>());
        var summary = await gateway.SummaryAsync("gw-openai-chat-stream", s => s.Reports >= 1);
        Assert.Equal(1, summary.Reports);
        AssertUsed(Usage.FromOpenAi(40, 120, cachedTokens: 8, reasoningTokens: 64), summary);
    }

    [Fact]
    public async Task OpenAI_response_gets_the_granted_cap_keeps_a_lower_effort_and_settles_its_usage()
    {
        await RunAsync("openai-responses", "gw-openai-responses");

        var sent = Assert.Single(gateway.Upstream.For("gw-openai-responses"));
        Assert.Equal(GrantedOutput, Number(sent.Body["max_output_tokens"]));
        Assert.Equal("low", sent.Body["reasoning"]!["effort"]!.GetValue<string>());
        var summary = await gateway.SummaryAsync("gw-openai-responses", s => s.Reports >= 1);
        AssertUsed(Usage.FromOpenAi(30, 90, reasoningTokens: 50), summary);
    }

    [Fact]
    public async Task OpenAI_response_stream_settles_the_usage_of_response_completed()
    {
        var (result, _) = await RunAsync("openai-responses-stream", "gw-openai-responses-stream");

        Assert.Equal("Hello there.", result.GetProperty("text").GetString());
        Assert.Equal(GrantedOutput, Number(Assert.Single(gateway.Upstream.For("gw-openai-responses-stream")).Body["max_output_tokens"]));
        var summary = await gateway.SummaryAsync("gw-openai-responses-stream", s => s.Reports >= 1);
        Assert.Equal(1, summary.Reports);
        AssertUsed(Usage.FromOpenAi(30, 90, reasoningTokens: 50), summary);
    }

    [Fact]
    public async Task Gemini_generateContent_gets_the_granted_caps_and_the_provider_key_and_settles_its_usage()
    {
        var (result, key) = await RunAsync("gemini", "gw-gemini");

        Assert.Equal("Hello there.", result.GetProperty("text").GetString());
        var sent = Assert.Single(gateway.Upstream.For("gw-gemini"));
        Assert.StartsWith("/v1beta/models/gemini-test:generateContent", sent.PathAndQuery, StringComparison.Ordinal);
        var config = sent.Body["generationConfig"]!;
        Assert.Equal(GrantedOutput, Number(config["maxOutputTokens"]));
        Assert.Equal(GrantedReasoning, Number(config["thinkingConfig"]!["thinkingBudget"]));
        Assert.Equal(ProviderStub.GeminiKey, sent.Headers["x-goog-api-key"]);
        AssertNothingOfTheCaller(sent, key);
        var summary = await gateway.SummaryAsync("gw-gemini", s => s.Reports >= 1);
        AssertUsed(Usage.FromGemini(20, 60, thoughtsTokenCount: 40), summary);
    }

    [Fact]
    public async Task Gemini_stream_gets_the_granted_thinking_budget_and_settles_its_last_usageMetadata()
    {
        var (result, _) = await RunAsync("gemini-stream", "gw-gemini-stream");

        Assert.Equal("Hello there.", result.GetProperty("text").GetString());
        var sent = Assert.Single(gateway.Upstream.For("gw-gemini-stream"));
        Assert.Contains(":streamGenerateContent", sent.PathAndQuery, StringComparison.Ordinal);
        Assert.Equal(GrantedReasoning, Number(sent.Body["generationConfig"]!["thinkingConfig"]!["thinkingBudget"]));
        var summary = await gateway.SummaryAsync("gw-gemini-stream", s => s.Reports >= 1);
        Assert.Equal(1, summary.Reports);
        AssertUsed(Usage.FromGemini(20, 60, thoughtsTokenCount: 40), summary);
    }

    private async Task<(JsonElement Result, string Key)> RunAsync(string scenario, string org, string stubScenario = "ok")
    {
        var key = await gateway.CallerKeyAsync(org);
        return (await NodeAsync(scenario, org, org, key, stubScenario), key);
    }

    private async Task<JsonElement> NodeAsync(string scenario, string org, string test, string key, string stubScenario)
    {
        var environment = new Dictionary<string, string>
        {
            ["GATEWAY"] = gateway.GatewayAddress.ToString().TrimEnd('/'),
            ["TB_KEY"] = key,
            ["ORG"] = org,
            ["TEST"] = test,
        };
        var output = (await Command.RunAsync(ToolPath.Require("node", "for the providers' Node SDKs"), ["clients.mjs", scenario, stubScenario], GatewayFixture.Clients, environment)).Succeeded();
        var line = output.Split('\n').SingleOrDefault(l => l.StartsWith("RESULT ", StringComparison.Ordinal))
            ?? throw new Xunit.Sdk.XunitException($"No result from {scenario}:\n{output}");
        return JsonDocument.Parse(line["RESULT ".Length..]).RootElement.Clone();
    }

    private static long Number(JsonNode? node) => node!.GetValue<long>();

    private static void AssertNothingOfTheCaller(ProviderStub.Received sent, string key)
    {
        Assert.DoesNotContain(sent.Headers, h => h.Value.Contains(key, StringComparison.Ordinal));
        Assert.DoesNotContain(sent.Headers, h => h.Key.StartsWith("x-taskbudgets-", StringComparison.Ordinal));
        Assert.DoesNotContain(key, sent.PathAndQuery, StringComparison.Ordinal);
    }

    private static void AssertUsed(Usage expected, GetUsageSummaryResponse summary)
    {
        Assert.Equal(expected.InputTokens, summary.Used.InputTokens);
        Assert.Equal(expected.CachedInputTokens, summary.Used.CachedInputTokens);
        Assert.Equal(expected.CacheWriteInputTokens, summary.Used.CacheWriteInputTokens);
        Assert.Equal(expected.OutputTokens, summary.Used.OutputTokens);
        Assert.Equal(expected.ReasoningTokens, summary.Used.ReasoningTokens);
    }
}
