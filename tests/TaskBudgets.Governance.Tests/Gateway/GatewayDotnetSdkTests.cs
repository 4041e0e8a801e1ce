using System.ClientModel;
using System.ClientModel.Primitives;
using Anthropic;
using Anthropic.Models.Messages;
using OpenAI;
using OpenAI.Chat;
using TaskBudgets.Client;
using TaskBudgets.V1;
using Usage = TaskBudgets.Client.Usage;

namespace TaskBudgets.Governance.Tests.Gateway;

/// <summary>
/// The providers' official .NET packages, unmodified, call through the gateway: only the base
/// URL, the key (the caller's tb_ key) and the x-taskbudgets-* headers (on the HttpClient the
/// application gives the SDK) change. The grant's numbers are those of <see cref="GatewaySdkTests"/>.
/// </summary>
public sealed class GatewayDotnetSdkTests(GatewayFixture gateway) : IClassFixture<GatewayFixture>
{
    private const long GrantedOutput = 3072;

    [Fact]
    public async Task Anthropic_package_call_goes_up_with_the_grant_and_settles_its_usage()
    {
        const string Org = "gw-dotnet-anthropic";
        using var http = HttpClientFor(Org);
        var client = new AnthropicClient { ApiKey = await gateway.CallerKeyAsync(Org), BaseUrl = Base(), HttpClient = http, MaxRetries = 0 };

        var message = await client.Messages.Create(new MessageCreateParams
        {
            Model = "claude-test",
            MaxTokens = 16000,
            Messages = [new UserMessageParam("Say hello.")],
        }, TestContext.Current.CancellationToken);

        Assert.Equal(150, message.Usage.OutputTokens);
        var sent = Assert.Single(gateway.Upstream.For(Org));
        Assert.Equal("/v1/messages", sent.PathAndQuery);
        Assert.Equal(GrantedOutput, sent.Body["max_tokens"]!.GetValue<long>());
        Assert.Equal(ProviderStub.AnthropicKey, sent.Headers["x-api-key"]);
        var summary = await gateway.SummaryAsync(Org, s => s.Reports >= 1);
        Assert.Equal(1, summary.Reports);
        Assert.Equal(Usage.FromAnthropic(25, 150, cacheCreationInputTokens: 5, cacheReadInputTokens: 10).OutputTokens, summary.Used.OutputTokens);
        Assert.Equal(25, summary.Used.InputTokens);
    }

    [Fact]
    public async Task OpenAI_package_chat_completion_gets_the_granted_cap_and_a_lower_effort_and_settles_its_usage()
    {
        const string Org = "gw-dotnet-openai";
        using var http = HttpClientFor(Org);
        var chat = ChatClientFor(Org, http, await gateway.CallerKeyAsync(Org));

        // The package marks reasoning effort as evaluation-only; callers of reasoning models set it.
#pragma warning disable OPENAI001
        var options = new ChatCompletionOptions { MaxOutputTokenCount = 50000, ReasoningEffortLevel = ChatReasoningEffortLevel.High };
#pragma warning restore OPENAI001
        ChatCompletion completion = await chat.CompleteChatAsync([new UserChatMessage("Say hello.")], options, TestContext.Current.CancellationToken);

        Assert.Equal("Hello there.", completion.Content[0].Text);
        var sent = Assert.Single(gateway.Upstream.For(Org));
        Assert.Equal(GrantedOutput, sent.Body["max_completion_tokens"]!.GetValue<long>());
        Assert.Equal("medium", sent.Body["reasoning_effort"]!.GetValue<string>());
        Assert.Equal("Bearer " + ProviderStub.OpenAiKey, sent.Headers["authorization"]);
        var summary = await gateway.SummaryAsync(Org, s => s.Reports >= 1);
        Assert.Equal(1, summary.Reports);
        AssertUsed(Usage.FromOpenAi(40, 120, cachedTokens: 8, reasoningTokens: 64), summary);
    }

    [Fact]
    public async Task OpenAI_package_chat_stream_passes_through_and_settles_its_usage_chunk()
    {
        const string Org = "gw-dotnet-openai-stream";
        using var http = HttpClientFor(Org);
        var chat = ChatClientFor(Org, http, await gateway.CallerKeyAsync(Org));

        var text = string.Empty;
        ChatTokenUsage? usage = null;
        await foreach (var update in chat.CompleteChatStreamingAsync([new UserChatMessage("Say hello.")], cancellationToken: TestContext.Current.CancellationToken))
        {
            text += string.Concat(update.ContentUpdate.Select(part => part.Text));
            usage = update.Usage ?? usage;
        }

        Assert.Equal("Hello there.", text);
        Assert.Equal(120, usage?.OutputTokenCount);
        var summary = await gateway.SummaryAsync(Org, s => s.Reports >= 1);
        Assert.Equal(1, summary.Reports);
        AssertUsed(Usage.FromOpenAi(40, 120, cachedTokens: 8, reasoningTokens: 64), summary);
    }

    private string Base() => gateway.GatewayAddress.ToString().TrimEnd('/');

    private ChatClient ChatClientFor(string org, HttpClient http, string key) =>
        new("gpt-test", new ApiKeyCredential(key), new OpenAIClientOptions
        {
            Endpoint = new Uri(Base() + "/v1"),
            Transport = new HttpClientPipelineTransport(http),
            RetryPolicy = new ClientRetryPolicy(maxRetries: 0),
        });

    /// <summary>What an application sets once on the HttpClient it gives the SDK: who and what the calls are.</summary>
    private static HttpClient HttpClientFor(string org)
    {
        var http = new HttpClient();
        http.DefaultRequestHeaders.Add("x-taskbudgets-org", org);
        http.DefaultRequestHeaders.Add("x-taskbudgets-task-type", "support");
        http.DefaultRequestHeaders.Add("x-taskbudgets-principal", "user-1");
        http.DefaultRequestHeaders.Add("x-stub-test", org);
        http.DefaultRequestHeaders.Add("x-stub-scenario", "ok");
        return http;
    }

    private static void AssertUsed(Usage expected, GetUsageSummaryResponse summary)
    {
        Assert.Equal(expected.InputTokens, summary.Used.InputTokens);
        Assert.Equal(expected.CachedInputTokens, summary.Used.CachedInputTokens);
        Assert.Equal(expected.OutputTokens, summary.Used.OutputTokens);
        Assert.Equal(expected.ReasoningTokens, summary.Used.ReasoningTokens);
    }
}
