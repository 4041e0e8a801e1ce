using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace TaskBudgets.Governance.Tests.Gateway;

/// <summary>
/// A local upstream that speaks each provider's documented formats (Anthropic Messages, OpenAI Chat
/// Completions and Responses, Gemini generateContent), plain and as server-sent events, and records
/// every request it gets. A request's x-stub-test header names the test it belongs to; its
/// x-stub-scenario header picks the answer: ok, fail (HTTP 500), fail-once (500, then ok), cut (a
/// stream that stops after three deltas and waits for the caller to leave).
/// </summary>
public sealed class ProviderStub : IAsyncDisposable
{
    public const string AnthropicKey = "sk-ant-upstream-credential";
    public const string OpenAiKey = "sk-openai-upstream-credential";
    public const string GeminiKey = "gemini-upstream-credential";

    private readonly WebApplication app;
    private readonly ConcurrentQueue<Received> received = new();
    private readonly ConcurrentDictionary<string, int> attempts = new();

    private ProviderStub(WebApplication app) => this.app = app;

    public Uri BaseAddress { get; private set; } = new("http://127.0.0.1");

    /// <summary>What the stub got: the path and query, the headers, the JSON body.</summary>
    public sealed record Received(string Test, string PathAndQuery, IReadOnlyDictionary<string, string> Headers, JsonObject Body);

    public IReadOnlyList<Received> For(string test) => [.. received.Where(r => r.Test == test)];

    public static async Task<ProviderStub> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        var port = FreePort.Next();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, port));
        var app = builder.Build();
        var stub = new ProviderStub(app) { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        app.MapPost("/v1/messages", stub.AnthropicAsync);
        app.MapPost("/v1/chat/completions", stub.ChatAsync);
        app.MapPost("/v1/responses", stub.ResponsesAsync);
        app.MapPost("/v1beta/models/{call}", stub.GeminiAsync);
        await app.StartAsync();
        return stub;
    }

    public async ValueTask DisposeAsync() => await app.DisposeAsync();

    private async Task<(JsonObject Body, string Scenario)?> RecordAsync(HttpContext context)
    {
        var body = (JsonNode.Parse(await new StreamReader(context.Request.Body).ReadToEndAsync()) as JsonObject)!;
        var test = context.Request.Headers["x-stub-test"].ToString();
        received.Enqueue(new Received(
            test,
            context.Request.Path + context.Request.QueryString,
            context.Request.Headers.ToDictionary(h => h.Key.ToLowerInvariant(), h => h.Value.ToString()),
            body));
        var scenario = context.Request.Headers["x-stub-scenario"].ToString();
        var attempt = attempts.AddOrUpdate(test, 1, (_, n) => n + 1);
        if (scenario == "fail" || (scenario == "fail-once" && attempt == 1))
        {
            context.Response.StatusCode = 500;
            await context.Response.WriteAsync("""{"type":"error","error":{"type":"api_error","message":"stub upstream failure"}}""");
            return null;
        }

        return (body, scenario);
    }

    private async Task AnthropicAsync(HttpContext context)
    {
        if (await RecordAsync(context) is not var (body, scenario))
        {
            return;
        }

        if (body["stream"]?.GetValue<bool>() != true)
        {
            await context.Response.WriteAsJsonAsync(new JsonObject
            {
                ["id"] = "msg_stub",
                ["type"] = "message",
                ["role"] = "assistant",
                ["model"] = body["model"]?.GetValue<string>(),
                ["content"] = new JsonArray(new JsonObject { ["type"] = "text", ["text"] = "Hello there." }),
                ["stop_reason"] = "end_turn",
                ["stop_sequence"] = null,
                ["usage"] = new JsonObject { ["input_tokens"] = 25, ["output_tokens"] = 150, ["cache_creation_input_tokens"] = 5, ["cache_read_input_tokens"] = 10 },
            });
            return;
        }

        await StartEventsAsync(context);
        await EventAsync(context, "message_start", """{"type":"message_start","message":{"id":"msg_stub","type":"message","role":"assistant","model":""" + "\"" + body["model"] + "\"" + ""","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":25,"output_tokens":1}}}""");
        await EventAsync(context, "content_block_start", """{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}""");
        foreach (var word in new[] { "Hello", " there", "." })
        {
            await EventAsync(context, "content_block_delta", $$$"""{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"{{{word}}}"}}""");
        }

        if (scenario == "cut")
        {
            await WaitForCallerToLeaveAsync(context);
            return;
        }

        await EventAsync(context, "content_block_stop", """{"type":"content_block_stop","index":0}""");
        await EventAsync(context, "message_delta", """{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":150}}""");
        await EventAsync(context, "message_stop", """{"type":"message_stop"}""");
    }

    private async Task ChatAsync(HttpContext context)
    {
        if (await RecordAsync(context) is not var (body, scenario))
        {
            return;
        }

        var usage = """{"prompt_tokens":40,"completion_tokens":120,"total_tokens":160,"prompt_tokens_details":{"cached_tokens":8},"completion_tokens_details":{"reasoning_tokens":64}}""";
        if (body["stream"]?.GetValue<bool>() != true)
        {
            await WriteJsonAsync(context, $$"""{"id":"chatcmpl-stub","object":"chat.completion","created":1767225600,"model":"{{body["model"]}}","choices":[{"index":0,"message":{"role":"assistant","content":"Hello there."},"finish_reason":"stop"}],"usage":{{usage}}}""");
            return;
        }

        await StartEventsAsync(context);
        foreach (var word in new[] { "Hello", " there", "." })
        {
            await EventAsync(context, null, $$"""{"id":"chatcmpl-stub","object":"chat.completion.chunk","created":1767225600,"model":"gpt-test","choices":[{"index":0,"delta":{"content":"{{word}}"},"finish_reason":null}]}""");
        }

        if (scenario == "cut")
        {
            await WaitForCallerToLeaveAsync(context);
            return;
        }

        await EventAsync(context, null, """{"id":"chatcmpl-stub","object":"chat.completion.chunk","created":1767225600,"model":"gpt-test","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}""");
        if (body["stream_options"]?["include_usage"]?.GetValue<bool>() == true)
        {
            await EventAsync(context, null, $$"""{"id":"chatcmpl-stub","object":"chat.completion.chunk","created":1767225600,"model":"gpt-test","choices":[],"usage":{{usage}}}""");
        }

        await EventAsync(context, null, "[DONE]");
    }

    private async Task ResponsesAsync(HttpContext context)
    {
        if (await RecordAsync(context) is not var (body, _))
        {
            return;
        }

        var response = $$$"""{"id":"resp_stub","object":"response","created_at":1767225600,"status":"completed","model":"{{{body["model"]}}}","output":[{"type":"message","id":"msg_stub","status":"completed","role":"assistant","content":[{"type":"output_text","text":"Hello there.","annotations":[]}]}],"usage":{"input_tokens":30,"input_tokens_details":{"cached_tokens":0},"output_tokens":90,"output_tokens_details":{"reasoning_tokens":50},"total_tokens":120}}""";
        if (body["stream"]?.GetValue<bool>() != true)
        {
            await WriteJsonAsync(context, response);
            return;
        }

        await StartEventsAsync(context);
        await EventAsync(context, "response.created", """{"type":"response.created","sequence_number":0,"response":{"id":"resp_stub","object":"response","status":"in_progress","output":[]}}""");
        var sequence = 1;
        foreach (var word in new[] { "Hello", " there", "." })
        {
            await EventAsync(context, "response.output_text.delta", $$"""{"type":"response.output_text.delta","sequence_number":{{sequence++}},"item_id":"msg_stub","output_index":0,"content_index":0,"delta":"{{word}}"}""");
        }

        await EventAsync(context, "response.completed", $$"""{"type":"response.completed","sequence_number":{{sequence}},"response":{{response}}}""");
    }

    private async Task GeminiAsync(HttpContext context, string call)
    {
        if (await RecordAsync(context) is not var (_, _))
        {
            return;
        }

        const string Final = """{"candidates":[{"content":{"parts":[{"text":"."}],"role":"model"},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":20,"candidatesTokenCount":60,"thoughtsTokenCount":40,"totalTokenCount":120},"modelVersion":"gemini-test"}""";
        if (call.EndsWith(":generateContent", StringComparison.Ordinal))
        {
            await WriteJsonAsync(context, """{"candidates":[{"content":{"parts":[{"text":"Hello there."}],"role":"model"},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":20,"candidatesTokenCount":60,"thoughtsTokenCount":40,"totalTokenCount":120},"modelVersion":"gemini-test"}""");
            return;
        }

        await StartEventsAsync(context);
        foreach (var word in new[] { "Hello", " there" })
        {
            await EventAsync(context, null, $$"""{"candidates":[{"content":{"parts":[{"text":"{{word}}"}],"role":"model"},"index":0}],"usageMetadata":{"promptTokenCount":20,"totalTokenCount":20},"modelVersion":"gemini-test"}""");
        }

        await EventAsync(context, null, Final);
    }

    private static async Task WriteJsonAsync(HttpContext context, string json)
    {
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(json);
    }

    private static async Task StartEventsAsync(HttpContext context)
    {
        context.Response.ContentType = "text/event-stream";
        context.Response.Headers.CacheControl = "no-cache";
        await context.Response.StartAsync();
    }

    private static async Task EventAsync(HttpContext context, string? name, string data)
    {
        var text = new StringBuilder();
        if (name is not null)
        {
            text.Append("event: ").Append(name).Append('\n');
        }

        text.Append("data: ").Append(data).Append("\n\n");
        await context.Response.WriteAsync(text.ToString());
        await context.Response.Body.FlushAsync();
    }

    private static async Task WaitForCallerToLeaveAsync(HttpContext context)
    {
        try
        {
            await Task.Delay(TimeSpan.FromMinutes(2), context.RequestAborted);
        }
        catch (OperationCanceledException)
        {
        }
    }
}
