using System.Net;
using System.Text;
using System.Text.Json;
using Grpc.Core;
using Microsoft.AspNetCore.Grpc.JsonTranscoding;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Routing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using TaskBudgets.Governance.Tests.Infrastructure;
using TaskBudgets.V1;

namespace TaskBudgets.Governance.Tests.Api;

/// <summary>
/// The data plane over HTTP/JSON (gRPC JSON transcoding, the google.api.http paths of
/// budget_service.proto), as a caller with only an HTTP client and a JSON parser sees it.
/// </summary>
public sealed class JsonTranscodingTests : IAsyncLifetime
{
    private const string ErrorInfoType = "type.googleapis.com/google.rpc.ErrorInfo";

    private GovernanceApp app = null!;
    private HttpClient http = null!;

    public ValueTask InitializeAsync()
    {
        app = GovernanceApp.Create();
        http = app.CreateClient();
        return ValueTask.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        http.Dispose();
        await app.DisposeAsync();
    }

    private static string AskJson(string taskType = "support", string model = "claude-test", string features = "{}") =>
        $$"""{"taskType": "{{taskType}}", "model": "{{model}}", "features": {{features}}}""";

    private static string ReportJson(string grantId) => $$"""
        {
          "grantId": "{{grantId}}",
          "usage": {"inputTokens": 300, "outputTokens": "2000", "reasoningTokens": 1500},
          "stopReason": "STOP_REASON_END_TURN",
          "outcome": "OUTCOME_SUCCESS",
          "latency": "2.500s"
        }
        """;

    private async Task<(HttpStatusCode Status, JsonElement Body)> PostAsync(string path, string json)
    {
        using var content = new StringContent(json, Encoding.UTF8, "application/json");
        using var response = await http.PostAsync(new Uri(path, UriKind.Relative), content);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return (response.StatusCode, document.RootElement.Clone());
    }

    /// <summary>A POST with <paramref name="authorization"/> as the header's value (the client's own when null): the status and response headers.</summary>
    private static async Task<(HttpStatusCode Status, System.Net.Http.Headers.HttpResponseHeaders Headers)> PostAsAsync(HttpClient client, string path, string json, string? authorization)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(path, UriKind.Relative)) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        if (authorization is not null)
        {
            request.Headers.Authorization = System.Net.Http.Headers.AuthenticationHeaderValue.Parse(authorization);
        }

        using var response = await client.SendAsync(request);
        return (response.StatusCode, response.Headers);
    }

    private async Task<JsonElement> GetBudgetAsync(string org = "acme", string? json = null)
    {
        var (status, body) = await PostAsync($"/v1/orgs/{org}/budget:get", json ?? AskJson());
        Assert.Equal(HttpStatusCode.OK, status);
        return body;
    }

    private async Task<long> SettlementCountAsync()
    {
        await using var db = app.Db();
        return await db.Settlements.LongCountAsync();
    }

    /// <summary>Checks an error body: a google.rpc.Status whose ErrorInfo carries the reason; returns its details.</summary>
    private static JsonElement[] AssertStatus(JsonElement body, StatusCode code, string reason)
    {
        Assert.Equal((int)code, body.GetProperty("code").GetInt32());
        Assert.False(string.IsNullOrWhiteSpace(body.GetProperty("message").GetString()));
        var details = body.GetProperty("details").EnumerateArray().ToArray();
        var info = Assert.Single(details, d => d.GetProperty("@type").GetString() == ErrorInfoType);
        Assert.Equal(reason, info.GetProperty("reason").GetString());
        Assert.Equal("taskbudgets.v1", info.GetProperty("domain").GetString());
        return details;
    }

    private static JsonElement Detail(JsonElement[] details, string type) =>
        Assert.Single(details, d => d.GetProperty("@type").GetString() == "type.googleapis.com/google.rpc." + type);

    [Fact]
    public async Task GetBudget_over_http_returns_the_grant_as_proto3_json()
    {
        var grant = await GetBudgetAsync();

        Assert.Equal("DECISION_GRANTED", grant.GetProperty("decision").GetString());
        Assert.Equal(2048, grant.GetProperty("budget").GetProperty("reasoningTokens").GetInt64());
        Assert.Equal(3072, grant.GetProperty("budget").GetProperty("maxOutputTokens").GetInt64());
        Assert.Equal("EFFORT_MEDIUM", grant.GetProperty("budget").GetProperty("effort").GetString());
        var anthropic = grant.GetProperty("providerParameters").GetProperty("anthropic");
        Assert.Equal(3072, anthropic.GetProperty("maxTokens").GetInt64());
        Assert.Equal(2048, anthropic.GetProperty("thinkingBudgetTokens").GetInt64());
        Assert.Equal("medium", anthropic.GetProperty("effort").GetString());
        Assert.StartsWith("tbg1.", grant.GetProperty("grantId").GetString(), StringComparison.Ordinal);
        Assert.Equal(GovernanceApp.Start.AddMinutes(10), grant.GetProperty("expiresAt").GetDateTimeOffset()); // default Grants:Ttl
        Assert.Equal("REASON_CODE_DEFAULT_RULE", grant.GetProperty("reasons")[0].GetProperty("code").GetString());
        Assert.Equal("standard", grant.GetProperty("tier").GetString());
        var reasoning = grant.GetProperty("quotas").EnumerateArray().Single(q => q.GetProperty("metric").GetString() == "QUOTA_METRIC_REASONING_TOKENS");
        Assert.Equal(2048, reasoning.GetProperty("reserved").GetInt64());
        Assert.Equal(10_000_000 - 2048, reasoning.GetProperty("remaining").GetInt64());
        Assert.Equal("QUOTA_WINDOW_DAY", reasoning.GetProperty("window").GetString());
        Assert.Equal(GovernanceApp.Start.Date.AddDays(1), reasoning.GetProperty("windowResetsAt").GetDateTime().ToUniversalTime());
    }

    [Fact]
    public async Task GetBudget_over_http_takes_the_features_and_accepts_proto_field_names()
    {
        var grant = await GetBudgetAsync(json: """
            {"task_type": "support", "model": "gemini-test", "features": {"phase": "PHASE_DEEP", "estimated_input_tokens": "5000"}}
            """);

        Assert.Equal(8192, grant.GetProperty("providerParameters").GetProperty("gemini").GetProperty("thinkingBudget").GetInt64());
        Assert.Contains(grant.GetProperty("reasons").EnumerateArray(), r => r.GetProperty("code").GetString() == "REASON_CODE_DEEP_PHASE");
    }

    [Fact]
    public async Task ReportUsage_over_http_settles_once_however_often_it_is_retried()
    {
        var grant = await GetBudgetAsync();
        var report = ReportJson(grant.GetProperty("grantId").GetString()!);

        var (status, first) = await PostAsync("/v1/usage:report", report);
        var (againStatus, again) = await PostAsync("/v1/usage:report", report);

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(HttpStatusCode.OK, againStatus);
        Assert.False(first.GetProperty("duplicate").GetBoolean());
        Assert.True(again.GetProperty("duplicate").GetBoolean());
        Assert.Equal(900 + 30_000, first.GetProperty("costMicros").GetInt64()); // 300 input at $3/M + 2000 output at $15/M
        Assert.Equal(first.GetProperty("settledAt").GetString(), again.GetProperty("settledAt").GetString());
        var reasoning = first.GetProperty("quotas").EnumerateArray().Single(q => q.GetProperty("metric").GetString() == "QUOTA_METRIC_REASONING_TOKENS");
        Assert.Equal(1500, reasoning.GetProperty("used").GetInt64());
        Assert.Equal(2048, reasoning.GetProperty("reserved").GetInt64());
        await using var db = app.Db();
        var row = await db.Settlements.AsNoTracking().SingleAsync();
        Assert.Equal(1500, row.ReasoningTokens);
        Assert.Equal(2000, row.OutputTokens);
    }

    [Fact]
    public async Task ReleaseBudget_over_http_frees_the_reservation_once()
    {
        var grants = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            grants.Add((await GetBudgetAsync("capped")).GetProperty("grantId").GetString()!);
        }

        var (fullStatus, full) = await PostAsync("/v1/orgs/capped/budget:get", AskJson());
        var (status, released) = await PostAsync("/v1/grants:release", $$"""{"grantId": "{{grants[0]}}"}""");
        var (_, again) = await PostAsync("/v1/grants:release", $$"""{"grant_id": "{{grants[0]}}"}""");
        var sixth = await GetBudgetAsync("capped");

        Assert.Equal(HttpStatusCode.TooManyRequests, fullStatus);
        AssertStatus(full, StatusCode.ResourceExhausted, "QUOTA_EXHAUSTED");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.False(released.GetProperty("alreadySettled").GetBoolean());
        Assert.True(again.GetProperty("alreadySettled").GetBoolean());
        Assert.Equal("DECISION_GRANTED", sixth.GetProperty("decision").GetString());
    }

    [Fact]
    public async Task A_grant_from_http_settles_over_grpc_and_the_other_way_round()
    {
        var overHttp = await GetBudgetAsync();
        var overGrpc = await app.Budgets.GetBudgetAsync(new GetBudgetRequest { OrgId = "acme", TaskType = "support", Model = "claude-test" });

        var settledOverGrpc = await app.Budgets.ReportUsageAsync(new ReportUsageRequest
        {
            GrantId = overHttp.GetProperty("grantId").GetString(),
            Usage = new UsageTokens { InputTokens = 10, OutputTokens = 20 },
        });
        var (status, settledOverHttp) = await PostAsync("/v1/usage:report", ReportJson(overGrpc.GrantId));

        Assert.False(settledOverGrpc.Duplicate);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.False(settledOverHttp.GetProperty("duplicate").GetBoolean());
        Assert.Equal(2, await SettlementCountAsync());
    }

    [Fact]
    public async Task An_unknown_org_is_404_with_the_status_as_json()
    {
        var (status, body) = await PostAsync("/v1/orgs/nobody/budget:get", AskJson());

        Assert.Equal(HttpStatusCode.NotFound, status);
        AssertStatus(body, StatusCode.NotFound, "ORG_NOT_FOUND");
        Assert.Contains("nobody", body.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bad_input_is_400_naming_the_field_and_changes_nothing()
    {
        var (status, body) = await PostAsync("/v1/orgs/acme/budget:get", AskJson(features: """{"complexity": 1.5}"""));

        Assert.Equal(HttpStatusCode.BadRequest, status);
        var details = AssertStatus(body, StatusCode.InvalidArgument, "INVALID_ARGUMENT");
        var violation = Assert.Single(Detail(details, "BadRequest").GetProperty("fieldViolations").EnumerateArray());
        Assert.Equal("features.complexity", violation.GetProperty("field").GetString());
        Assert.Empty(await app.CountersAsync());
    }

    [Fact]
    public async Task A_quota_denial_is_429_with_quota_failure_and_retry_info()
    {
        var deep = """{"phase": "PHASE_DEEP"}""";
        for (var i = 0; i < 3; i++)
        {
            await GetBudgetAsync("small", AskJson(features: deep));
        }

        var (status, body) = await PostAsync("/v1/orgs/small/budget:get", AskJson(features: deep));

        Assert.Equal(HttpStatusCode.TooManyRequests, status);
        var details = AssertStatus(body, StatusCode.ResourceExhausted, "QUOTA_EXHAUSTED");
        var violation = Assert.Single(Detail(details, "QuotaFailure").GetProperty("violations").EnumerateArray());
        Assert.Equal("org:small", violation.GetProperty("subject").GetString());
        Assert.Equal("43200s", Detail(details, "RetryInfo").GetProperty("retryDelay").GetString()); // 12 h to midnight UTC
        var (again, headers) = await PostAsAsync(http, "/v1/orgs/small/budget:get", AskJson(features: deep), "Bearer " + GovernanceApp.AdminKey);
        Assert.Equal(HttpStatusCode.TooManyRequests, again);
        Assert.Equal(TimeSpan.FromSeconds(43200), headers.RetryAfter?.Delta);
    }

    [Fact]
    public async Task A_key_past_its_request_rate_is_429_with_retry_after_in_seconds()
    {
        await using var limited = GovernanceApp.Create(extra: new Dictionary<string, string> { ["Auth:RequestBurst"] = "1", ["Auth:RequestsPerSecond"] = "0.1" });
        using var client = limited.CreateClient();
        var bearer = "Bearer " + GovernanceApp.AdminKey;

        Assert.Equal(HttpStatusCode.OK, (await PostAsAsync(client, "/v1/orgs/acme/budget:get", AskJson(), bearer)).Status);
        var (status, headers) = await PostAsAsync(client, "/v1/orgs/acme/budget:get", AskJson(), bearer);

        Assert.Equal(HttpStatusCode.TooManyRequests, status);
        Assert.Equal(TimeSpan.FromSeconds(10), headers.RetryAfter?.Delta); // one request back at 0.1 per second
    }

    [Fact]
    public async Task An_address_past_its_failed_authentications_is_429_with_retry_after()
    {
        await using var limited = GovernanceApp.Create(extra: new Dictionary<string, string> { ["Auth:FailedAuthBurst"] = "1", ["Auth:FailedAuthPerSecond"] = "1" });
        using var client = limited.CreateClient();
        var wrong = "Bearer tb_not-a-key-0123456789abcdefghijklmnopqrstuvwxyz";

        Assert.Equal(HttpStatusCode.Unauthorized, (await PostAsAsync(client, "/v1/orgs/acme/budget:get", AskJson(), wrong)).Status);
        var (status, headers) = await PostAsAsync(client, "/v1/orgs/acme/budget:get", AskJson(), wrong);

        Assert.Equal(HttpStatusCode.TooManyRequests, status);
        Assert.True(headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1), "Retry-After: " + headers.RetryAfter);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("Bearer tb_not-a-key-0123456789abcdefghijklmnopqrstuvwxyz")]
    public async Task A_call_without_a_valid_key_is_401_with_a_bearer_challenge(string? authorization)
    {
        using var keyless = app.Server.CreateClient(); // without the admin key CreateClient adds
        var (status, headers) = await PostAsAsync(keyless, "/v1/orgs/acme/budget:get", AskJson(), authorization);

        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Equal("Bearer", Assert.Single(headers.WwwAuthenticate).Scheme);
        Assert.Null(headers.RetryAfter);
    }

    [Fact]
    public async Task An_unknown_grant_is_404_for_report_and_release()
    {
        var (reportStatus, report) = await PostAsync("/v1/usage:report", ReportJson("grant-123"));
        var (releaseStatus, release) = await PostAsync("/v1/grants:release", """{"grantId": "grant-123"}""");

        Assert.Equal(HttpStatusCode.NotFound, reportStatus);
        AssertStatus(report, StatusCode.NotFound, "GRANT_NOT_FOUND");
        Assert.Equal(HttpStatusCode.NotFound, releaseStatus);
        AssertStatus(release, StatusCode.NotFound, "GRANT_NOT_FOUND");
        Assert.Equal(0, await SettlementCountAsync());
    }

    [Fact]
    public async Task Malformed_json_is_400_and_changes_nothing()
    {
        var (status, body) = await PostAsync("/v1/orgs/acme/budget:get", """{"taskType": "support", "model": """);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal((int)StatusCode.InvalidArgument, body.GetProperty("code").GetInt32());
        Assert.Empty(await app.CountersAsync());
    }

    [Fact]
    public void Json_bodies_are_limited_like_grpc_messages()
    {
        // TestServer does not enforce body limits, so check the wiring; Examples/ExampleClientTests
        // sends an oversized body to a real server.
        var endpoints = app.Services.GetRequiredService<EndpointDataSource>().Endpoints
            .Where(e => e.Metadata.GetMetadata<GrpcJsonTranscodingMetadata>() is not null)
            .ToList();

        Assert.Equal(3, endpoints.Count);
        Assert.All(endpoints, e => Assert.Equal(64 * 1024, e.Metadata.GetMetadata<IRequestSizeLimitMetadata>()?.MaxRequestBodySize));
    }
}
