using TaskBudgets.Governance.Tests.Deployment.Containers;
using TaskBudgets.Governance.Tests.Infrastructure;
using TaskBudgets.V1;

namespace TaskBudgets.Governance.Tests.Deployment;

/// <summary>
/// The image as far as it can be checked without a Docker engine: its publish command is run, and
/// what it publishes is started the way the image starts it (WORKDIR, ENTRYPOINT, ENV, EXPOSE).
/// </summary>
public sealed class DockerfileTests(DockerfileTests.Published published) : IClassFixture<DockerfileTests.Published>
{
    private const string Publish = "RUN dotnet publish src/TaskBudgets.Governance/TaskBudgets.Governance.csproj -c Release -o /app/publish";
    private const string Restore = "RUN dotnet restore src/TaskBudgets.Governance/TaskBudgets.Governance.csproj";
    private static readonly Dockerfile Image = Dockerfile.OfRepository;

    [Fact]
    public void Publish_command_writes_the_server_and_its_sample_policy()
    {
        Assert.True(File.Exists(Path.Combine(published.Directory, "TaskBudgets.Governance.dll")), published.Output);
        Assert.True(File.Exists(Path.Combine(published.Directory, "policies", "policies.yaml")), published.Output);
    }

    [Fact]
    public async Task Published_server_serves_budgets_on_the_exposed_ports_with_the_images_environment()
    {
        using var volumes = new TempDirectory();
        var mounts = new Dictionary<string, string> { ["/data"] = Path.Combine(volumes.Path, "data"), ["/tmp"] = Path.Combine(volumes.Path, "tmp") };
        foreach (var folder in mounts.Values)
        {
            Directory.CreateDirectory(folder);
        }

        Assert.Equal("WORKDIR /app", Image.Runtime.Single(l => l.StartsWith("WORKDIR ", StringComparison.Ordinal)));
        Assert.Equal("ENTRYPOINT [\"dotnet\", \"TaskBudgets.Governance.dll\"]", Image.Only("ENTRYPOINT "));
        var ports = Image.ExposedPorts;
        Assert.Equal(2, ports.Count);

        var container = new LocalContainer(published.Directory, [], Image.Environment, mounts, ports[0], ports[1]);
        await using var running = await container.StartAsync();

        var grant = await running.GetBudgetAsync(running.GeneratedAdminKey(), "demo", "claude-sonnet-4-5");
        Assert.Equal(Decision.Granted, grant.Decision);
    }

    [Fact]
    public void Restore_layer_depends_only_on_project_files()
    {
        var lines = Image.Instructions;
        var restore = lines.IndexOf(Restore);
        var publish = lines.IndexOf(Publish);
        Assert.True(restore >= 0, "The restore step is not exactly: " + Restore);
        Assert.True(publish > restore, "The publish step is not exactly, and after restore: " + Publish);
        Assert.Contains(lines[restore..publish], l => l.StartsWith("COPY src/ src/", StringComparison.Ordinal));
        foreach (var input in new[] { "global.json", "Directory.Build.props", "Directory.Packages.props", "protos/" })
        {
            Assert.Contains(lines[..restore], l => l.StartsWith("COPY ", StringComparison.Ordinal) && l.Contains(input, StringComparison.Ordinal));
        }
    }

    [Fact]
    public void Runtime_is_the_ASP_NET_image_running_as_a_non_root_user_with_a_data_volume()
    {
        Assert.Contains("ARG DOTNET_VERSION=10.0", Image.Instructions);
        Assert.Contains(Image.Instructions, l => l.StartsWith("FROM mcr.microsoft.com/dotnet/sdk:${DOTNET_VERSION}", StringComparison.Ordinal));
        Assert.StartsWith("FROM mcr.microsoft.com/dotnet/aspnet:${DOTNET_VERSION}", Image.Runtime[0], StringComparison.Ordinal);
        var user = Image.Runtime.Last(l => l.StartsWith("USER ", StringComparison.Ordinal));
        Assert.DoesNotContain(user, new[] { "USER root", "USER 0" });
        Assert.Contains("VOLUME [\"/data\"]", Image.Runtime);
        Assert.Equal("/data", Image.Environment["Storage__DataDirectory"]);
    }

    [Fact]
    public void Dockerignore_keeps_what_the_build_needs_in_the_context()
    {
        var ignored = File.ReadAllLines(Path.Combine(Repository.Root, ".dockerignore"))
            .Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#')).Select(l => l.TrimEnd('/')).ToHashSet();
        string[] needed = ["src", "protos", "global.json", "Directory.Build.props", "Directory.Packages.props", "*.props", "*.json", "*.csproj", "**/*.csproj"];
        Assert.DoesNotContain(needed, ignored.Contains);
    }

    /// <summary>The Dockerfile's publish command, run once into a folder of its own instead of /app/publish.</summary>
    public sealed class Published : IAsyncLifetime
    {
        private readonly TempDirectory folder = new();

        public string Directory => folder.Path;

        public string Output { get; private set; } = "";

        public async ValueTask InitializeAsync()
        {
            var command = Image.Only("RUN dotnet publish ");
            Assert.EndsWith(" -o /app/publish", command, StringComparison.Ordinal);
            var arguments = command[..^" -o /app/publish".Length]["RUN dotnet ".Length..].Split(' ');
            Output = (await Command.RunAsync("dotnet", [.. arguments, "-o", Directory, "-nologo"], Repository.Root, timeout: TimeSpan.FromMinutes(5))).Succeeded();
        }

        public ValueTask DisposeAsync()
        {
            folder.Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
