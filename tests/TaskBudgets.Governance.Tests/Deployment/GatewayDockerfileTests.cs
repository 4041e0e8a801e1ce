using System.Diagnostics;
using System.Globalization;
using System.Text;
using TaskBudgets.Governance.Tests.Deployment.Containers;
using TaskBudgets.Governance.Tests.Infrastructure;

namespace TaskBudgets.Governance.Tests.Deployment;

/// <summary>
/// The gateway's image as far as it can be checked without a Docker engine: its publish command is
/// run, and what it publishes is started the way the image starts it (ENTRYPOINT, ENV, EXPOSE).
/// </summary>
public sealed class GatewayDockerfileTests(GatewayDockerfileTests.Published published) : IClassFixture<GatewayDockerfileTests.Published>
{
    private static readonly Dockerfile Image = new(Path.Combine(Repository.Root, "src", "TaskBudgets.Gateway", "Dockerfile"));

    [Fact]
    public async Task The_published_gateway_starts_as_the_image_starts_it_and_answers_on_its_exposed_port()
    {
        var entrypoint = Image.Only("ENTRYPOINT ");
        Assert.Equal("ENTRYPOINT [\"dotnet\", \"TaskBudgets.Gateway.dll\"]", entrypoint);
        var environment = Image.Environment;
        Assert.Equal(Image.ExposedPorts.Single().ToString(CultureInfo.InvariantCulture), environment["Gateway__Port"]);

        // The image's environment, with a free port instead of the exposed one and the settings an operator gives.
        var port = FreePort.Next();
        environment["Gateway__Port"] = port.ToString(CultureInfo.InvariantCulture);
        environment["TaskBudgets__Address"] = "http://127.0.0.1:9";
        environment["Gateway__Anthropic__ApiKey"] = "not-a-real-key";
        environment["Gateway__OpenAi__Enabled"] = "false";
        environment["Gateway__Gemini__Enabled"] = "false";
        using var gateway = Start(environment, out var output);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var healthy = false;
        for (var deadline = DateTime.UtcNow.AddSeconds(60); !healthy && DateTime.UtcNow < deadline && !gateway.HasExited; await Task.Delay(200))
        {
            try
            {
                healthy = (await http.GetAsync(new Uri($"http://127.0.0.1:{port}/healthz"))).IsSuccessStatusCode;
            }
            catch (HttpRequestException)
            {
            }
        }

        Assert.True(healthy, "The gateway did not answer /healthz:\n" + output);

        // Up, but not ready: the service it was pointed at does not answer.
        using var ready = await http.GetAsync(new Uri($"http://127.0.0.1:{port}/readyz"));
        Assert.Equal(System.Net.HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        gateway.Kill();
    }

    [Fact]
    public async Task A_gateway_without_provider_credentials_stops_with_a_line_for_each_route()
    {
        using var gateway = Start(Image.Environment, out var output);
        Assert.True(gateway.WaitForExit(TimeSpan.FromSeconds(60)), "The gateway kept running without its settings.");
        await gateway.WaitForExitAsync();

        Assert.Equal(1, gateway.ExitCode);
        var text = output.ToString();
        Assert.Contains("Configuration error", text, StringComparison.Ordinal);
        foreach (var route in new[] { "Anthropic", "OpenAi", "Gemini" })
        {
            Assert.Contains($"Gateway:{route}: set the provider credential", text, StringComparison.Ordinal);
        }

        Assert.DoesNotContain("   at ", text, StringComparison.Ordinal);
    }

    private Process Start(Dictionary<string, string> environment, out StringBuilder output)
    {
        var info = new ProcessStartInfo("dotnet") { WorkingDirectory = published.Directory, RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add("TaskBudgets.Gateway.dll");
        foreach (var (name, value) in environment)
        {
            info.Environment[name] = value;
        }

        var lines = new StringBuilder();
        var process = Process.Start(info)!;
        process.OutputDataReceived += (_, e) => { lock (lines) { lines.AppendLine(e.Data); } };
        process.ErrorDataReceived += (_, e) => { lock (lines) { lines.AppendLine(e.Data); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        output = lines;
        return process;
    }

    /// <summary>The Dockerfile's publish command, run once into a folder of its own instead of /app/publish.</summary>
    public sealed class Published : IAsyncLifetime
    {
        private readonly TempDirectory folder = new();

        public string Directory => folder.Path;

        public async ValueTask InitializeAsync()
        {
            var command = Image.Only("RUN dotnet publish ");
            Assert.EndsWith(" -o /app/publish", command, StringComparison.Ordinal);
            var arguments = command[..^" -o /app/publish".Length]["RUN dotnet ".Length..].Split(' ');
            (await Command.RunAsync("dotnet", [.. arguments, "-o", Directory, "-nologo"], Repository.Root, timeout: TimeSpan.FromMinutes(5))).Succeeded();
        }

        public ValueTask DisposeAsync()
        {
            folder.Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
