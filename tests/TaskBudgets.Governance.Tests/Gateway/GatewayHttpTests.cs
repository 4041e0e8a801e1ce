using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;

namespace TaskBudgets.Governance.Tests.Gateway;

/// <summary>
/// The gateway over plain HTTP, as curl calls it: who may call, what the headers and per-key
/// defaults decide, a task's budget, and the operations endpoints.
/// </summary>
public sealed class GatewayHttpTests(GatewayFixture gateway) : IClassFixture<GatewayFixture>
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromMinutes(1) };

    [Fact]
    public async Task A_call_without_a_key_is_refused_in_the_providers_shape_and_goes_nowhere()
    {
        using var response = await SendAsync("/v1/messages", AnthropicBody(), ("x-stub-test", "http-no-key"));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<JsonObject>();
        Assert.Equal("authentication_error", body!["error"]!["type"]!.GetValue<string>());
        Assert.Empty(gateway.Upstream.For("http-no-key"));
    }

    [Fact]
    public async Task A_key_naming_another_org_is_refused_and_spends_nothing()
    {
        var key = await gateway.CallerKeyAsync("gw-http");
        using var response = await SendAsync("/v1/messages", AnthropicBody(), ("x-api-key", key), ("x-taskbudgets-org", "gw-other"), ("x-stub-test", "http-other-org"));

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<JsonObject>();
        Assert.Equal("permission_error", body!["error"]!["type"]!.GetValue<string>());
        Assert.Empty(gateway.Upstream.For("http-other-org"));
        var summary = await gateway.Server.Admin.GetUsageSummaryAsync(new V1.GetUsageSummaryRequest { OrgId = "gw-other" });
        Assert.Equal(0, summary.Reports);
        Assert.Equal(0, summary.Reserved.OutputTokens);
    }

    [Fact]
    public async Task A_body_that_is_not_JSON_is_refused_before_any_budget_is_asked()
    {
        var key = await gateway.CallerKeyAsync("gw-http");
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(gateway.GatewayAddress, "/v1/chat/completions"))
        {
            Content = new StringContent("{not json", Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("authorization", "Bearer " + key);
        request.Headers.Add("x-taskbudgets-org", "gw-http");
        using var response = await Http.SendAsync(request);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<JsonObject>();
        Assert.Equal("invalid_request_error", body!["error"]!["type"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_keys_configured_defaults_name_the_org_and_task_type_and_a_task_gets_its_task_budget()
    {
        using var response = await SendAsync(
            "/v1/messages",
            AnthropicBody(),
            ("x-api-key", gateway.KeyWithDefaults),
            ("anthropic-beta", "some-other-beta"),
            ("x-taskbudgets-task-id", "loop-1"),
            ("x-stub-test", "http-keyed"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var sent = Assert.Single(gateway.Upstream.For("http-keyed"));
        var taskBudget = sent.Body["output_config"]!["task_budget"]!;
        Assert.Equal("tokens", taskBudget["type"]!.GetValue<string>());
        Assert.Equal(10000, taskBudget["total"]!.GetValue<long>());
        Assert.Equal(10000, taskBudget["remaining"]!.GetValue<long>());
        Assert.Equal("some-other-beta,task-budgets-2026-03-13", sent.Headers["anthropic-beta"]);
        var summary = await gateway.SummaryAsync("gw-keyed", s => s.Reports >= 1);
        Assert.Equal(1, summary.Reports);
    }

    [Fact]
    public async Task A_Gemini_key_in_the_query_is_taken_and_never_sent_upstream()
    {
        var key = await gateway.CallerKeyAsync("gw-http");
        var body = new JsonObject { ["contents"] = new JsonArray(new JsonObject { ["parts"] = new JsonArray(new JsonObject { ["text"] = "hi" }) }) };
        using var response = await SendAsync($"/v1beta/models/gemini-test:generateContent?key={key}", body, ("x-taskbudgets-org", "gw-http"), ("x-stub-test", "http-gemini-query"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var sent = Assert.Single(gateway.Upstream.For("http-gemini-query"));
        Assert.Equal("/v1beta/models/gemini-test:generateContent", sent.PathAndQuery);
        Assert.Equal(ProviderStub.GeminiKey, sent.Headers["x-goog-api-key"]);
    }

    [Fact]
    public async Task Health_readiness_and_metrics_answer_and_count_the_calls()
    {
        var key = await gateway.CallerKeyAsync("gw-http");
        using (var call = await SendAsync("/v1/messages", AnthropicBody(), ("x-api-key", key), ("x-taskbudgets-org", "gw-http"), ("x-stub-test", "http-metrics")))
        {
            Assert.Equal(HttpStatusCode.OK, call.StatusCode);
        }

        using var health = await Http.GetAsync(new Uri(gateway.GatewayAddress, "/healthz"));
        using var ready = await Http.GetAsync(new Uri(gateway.GatewayAddress, "/readyz"));

        // The report follows the answer: wait for it to be counted.
        var reported = "api=\"anthropic-messages\",outcome=\"reported\"}";
        var metrics = string.Empty;
        for (var deadline = DateTime.UtcNow.AddSeconds(30); !metrics.Contains(reported, StringComparison.Ordinal) && DateTime.UtcNow < deadline; await Task.Delay(50))
        {
            metrics = await Http.GetStringAsync(new Uri(gateway.GatewayAddress, "/metrics"));
        }

        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Assert.Contains(reported, metrics, StringComparison.Ordinal);
        Assert.Contains("api=\"anthropic-messages\",decision=\"granted\"}", metrics, StringComparison.Ordinal);
        Assert.Contains("taskbudgets_gateway_upstream_duration_seconds_count{otel_scope_name=\"TaskBudgets.Gateway\",api=\"anthropic-messages\",status_class=\"2xx\"}", metrics, StringComparison.Ordinal);
    }

    private static JsonObject AnthropicBody() => new()
    {
        ["model"] = "claude-test",
        ["max_tokens"] = 1000,
        ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "hi" }),
    };

    private async Task<HttpResponseMessage> SendAsync(string path, JsonObject body, params (string Name, string Value)[] headers)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(gateway.GatewayAddress, path)) { Content = JsonContent.Create(body) };
        foreach (var (name, value) in headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        return await Http.SendAsync(request);
    }
}
