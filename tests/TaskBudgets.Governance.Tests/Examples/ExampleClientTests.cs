using System.Net;
using System.Text;
using System.Text.Json;
using TaskBudgets.Governance.Tests.Infrastructure;

namespace TaskBudgets.Governance.Tests.Examples;

/// <summary>
/// Each client in examples/ runs as a user runs it, against a real server process, and must
/// finish with its settlement: a budget asked for, a model call simulated, its usage reported.
/// </summary>
public sealed class ExampleClientTests(ExampleServer example) : IClassFixture<ExampleServer>
{
    private static readonly string Examples = Path.Combine(Repository.Root, "examples");

    [Fact]
    public async Task Node_client_over_grpc_js_gets_a_budget_and_settles_it()
    {
        var folder = Path.Combine(Examples, "node");
        var installed = Path.Combine(folder, "node_modules", ".package-lock.json");
        if (!File.Exists(installed) || File.GetLastWriteTimeUtc(Path.Combine(folder, "package-lock.json")) > File.GetLastWriteTimeUtc(installed))
        {
            (await Command.RunAsync(ToolPath.Require("npm", "for the Node example (apt-get install npm)"), ["ci", "--no-audit", "--no-fund", "--loglevel=error"], folder)).Succeeded();
        }

        await AssertSettlesAsync(ToolPath.Require("node", "for the Node example (apt-get install nodejs)"), ["index.js"], folder);
    }

    [Fact]
    public async Task Python_client_over_grpcio_gets_a_budget_and_settles_it()
    {
        var folder = Path.Combine(Examples, "python");
        var python = "/usr/bin/python3";
        Assert.True(File.Exists(python), "The Python example runs on the system python3 with Debian's python3-grpcio and python3-protobuf.");
        (await Command.RunAsync("bash", ["generate.sh"], folder, new Dictionary<string, string> { ["PYTHON"] = python })).Succeeded();
        await AssertSettlesAsync(python, ["client.py"], folder);
    }

    [Fact]
    public async Task Go_client_built_offline_gets_a_budget_and_settles_it()
    {
        ToolPath.Require("go", "for the Go example (apt-get install golang-go golang-google-grpc-dev protoc-gen-go protoc-gen-go-grpc)");
        await AssertSettlesAsync("bash", ["run.sh"], Path.Combine(Examples, "go"));
    }

    [Fact]
    public async Task Curl_client_over_HTTP_JSON_gets_a_budget_and_settles_it()
    {
        ToolPath.Require("curl", "for the curl example (apt-get install curl)");
        await AssertSettlesAsync("bash", ["curl.sh"], Examples);
    }

    [Fact]
    public async Task A_JSON_body_over_the_message_limit_is_refused()
    {
        // TestServer does not enforce Kestrel's body limits: only a real server shows this.
        var body = JsonSerializer.Serialize(new { taskType = "support", model = "claude-sonnet-4-5", taskId = new string('x', 100_000) });
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(example.Server.HttpAddress, "/v1/orgs/demo/budget:get"))
        {
            Content = new StringContent(body, Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new("Bearer", GovernanceApp.AdminKey);
        using var response = await http.SendAsync(request);
        var answer = await response.Content.ReadAsStringAsync();

        // RESOURCE_EXHAUSTED for a size, as HTTP/JSON gives it, naming the limit.
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Contains("exceeds the limit", answer, StringComparison.Ordinal);
        Assert.Contains("MESSAGE_TOO_LARGE", answer, StringComparison.Ordinal);
    }

    private async Task AssertSettlesAsync(string file, string[] arguments, string folder)
    {
        var output = (await Command.RunAsync(file, arguments, folder, example.ClientEnvironment, TimeSpan.FromMinutes(3))).Succeeded();
        Assert.True(output.Split('\n').Any(l => l.StartsWith("settlement: ", StringComparison.Ordinal)), $"No settlement line:\n{output}\n--- server:\n{example.Server.Output}");
    }
}
