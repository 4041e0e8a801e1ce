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
    private const string Publish = "RUN dotnet publish src/TaskBudgets.Governance/TaskBudgets.Governance.csproj -c Release -r linux-x64 --self-contained false -o /app/publish";
    private const string Restore = "RUN dotnet restore src/TaskBudgets.Governance/TaskBudgets.Governance.csproj -r linux-x64";
    private static readonly Dockerfile Image = Dockerfile.OfRepository;

    [Fact]
    public void Publish_command_writes_the_server_and_its_sample_policy()
    {
        Assert.True(File.Exists(Path.Combine(published.Directory, "TaskBudgets.Governance.dll")), published.Output);
        Assert.True(File.Exists(Path.Combine(published.Directory, "policies", "policies.yaml")), published.Output);
    }

    [Fact]
    public void Publish_command_carries_no_other_platforms_native_libraries()
    {
        var files = System.IO.Directory.GetFiles(published.Directory, "*", SearchOption.AllDirectories);
        Assert.False(System.IO.Directory.Exists(Path.Combine(published.Directory, "runtimes")), "runtimes/ holds other platforms' libraries: " + string.Join(", ", System.IO.Directory.GetDirectories(published.Directory, "*", SearchOption.AllDirectories)));
        Assert.DoesNotContain(files, f => f.EndsWith(".dylib", StringComparison.Ordinal) || f.EndsWith(".a", StringComparison.Ordinal));
        var natives = files.Where(f => f.EndsWith(".so", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(natives);
        Assert.All(natives, f => Assert.True(IsLinuxX64(f), f + " is not a linux-x64 library"));
    }

    [Fact]
    public async Task Healthcheck_command_exits_0_while_the_server_is_ready_and_1_once_it_is_down()
    {
        using var volumes = new TempDirectory();
        var mounts = new Dictionary<string, string> { ["/data"] = Path.Combine(volumes.Path, "data"), ["/tmp"] = Path.Combine(volumes.Path, "tmp") };
        foreach (var folder in mounts.Values)
        {
            Directory.CreateDirectory(folder);
        }

        var healthCheck = Image.HealthCheck;
        Assert.Equal(["dotnet", "TaskBudgets.Governance.dll", "healthcheck"], healthCheck);
        var ports = Image.ExposedPorts;
        var running = await new LocalContainer(published.Directory, [], Image.Environment, mounts, ports[0], ports[1]).StartAsync();
        CommandResult down;
        await using (running)
        {
            var up = await running.ExecAsync(healthCheck);
            Assert.True(up.ExitCode == 0, up.Description + "\n" + up.Output);
            Assert.Contains("/readyz: 200", up.Output, StringComparison.Ordinal);
        }

        down = await running.ExecAsync(healthCheck);
        Assert.True(down.ExitCode == 1, down.Description + "\n" + down.Output);
    }

    [Fact]
    public async Task Healthcheck_command_reaches_a_TLS_server_with_the_servers_own_settings()
    {
        using var directory = new TempDirectory();
        var pki = new TestPki();
        var (certificate, key) = (Path.Combine(directory.Path, "server.crt"), Path.Combine(directory.Path, "server.key"));
        TestPki.WritePem(pki.Server(), certificate, key);
        var settings = new Dictionary<string, string>
        {
            ["Storage:DataDirectory"] = directory.Path,
            ["Server:Tls:CertificatePath"] = certificate,
            ["Server:Tls:KeyPath"] = key,
            ["Server:Tls:ReloadInterval"] = "1.00:00:00",
        };
        var dll = Path.Combine(published.Directory, "TaskBudgets.Governance.dll");
        Task<CommandResult> CheckAsync(LocalServer server) => Command.RunAsync(
            "dotnet",
            [dll, "healthcheck", .. settings.Select(s => $"--{s.Key}={s.Value}"), "--Server:ListenAddress=127.0.0.1", $"--Server:HttpPort={server.HttpPort}"],
            published.Directory);

        await using var server = await LocalServer.StartAsync(dll, published.Directory, settings, httpHandler: () => pki.Handler());
        var up = await CheckAsync(server);
        Assert.True(up.ExitCode == 0, up.Description + "\n" + up.Output);
        Assert.Contains($"GET https://127.0.0.1:{server.HttpPort}/readyz: 200", up.Output, StringComparison.Ordinal);

        // The files now name another certificate than the one the server answers with (it reloads
        // them once a day here): whoever answers on that port is not the server so configured.
        TestPki.WritePem(pki.Server(), certificate, key);
        var other = await CheckAsync(server);
        Assert.True(other.ExitCode == 1, other.Description + "\n" + other.Output);
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
        Assert.Contains(Image.Instructions, l => l.StartsWith("FROM mcr.microsoft.com/dotnet/sdk:${DOTNET_SDK_VERSION}", StringComparison.Ordinal));
        Assert.StartsWith("FROM mcr.microsoft.com/dotnet/aspnet:${DOTNET_RUNTIME_VERSION}", Image.Runtime[0], StringComparison.Ordinal);
        var user = Image.Runtime.Last(l => l.StartsWith("USER ", StringComparison.Ordinal));
        Assert.DoesNotContain(user, new[] { "USER root", "USER 0" });
        Assert.Contains("VOLUME [\"/data\"]", Image.Runtime);
        Assert.Equal("/data", Image.Environment["Storage__DataDirectory"]);
    }

    [Fact]
    public void Base_images_are_pinned_to_exact_versions_the_repository_builds_with()
    {
        var sdk = Image.Only("ARG DOTNET_SDK_VERSION=")["ARG DOTNET_SDK_VERSION=".Length..];
        var runtime = Image.Only("ARG DOTNET_RUNTIME_VERSION=")["ARG DOTNET_RUNTIME_VERSION=".Length..];
        Assert.Matches(@"^\d+\.\d+\.\d+$", sdk);
        Assert.Matches(@"^\d+\.\d+\.\d+$", runtime);
        Assert.Equal(sdk, Manifests.Yaml.Load(Path.Combine(Repository.Root, "global.json"))?["sdk"]?["version"]?.GetValue<string>());
        Assert.Equal(sdk.Split('.')[0] + "." + sdk.Split('.')[1], runtime[..runtime.LastIndexOf('.')]);
        foreach (var from in Image.Instructions.Where(l => l.StartsWith("FROM ", StringComparison.Ordinal)))
        {
            var image = from.Split(' ')[1];
            Assert.DoesNotContain(":latest", image, StringComparison.Ordinal);
            Assert.Matches(@":(\$\{DOTNET_(SDK|RUNTIME)_VERSION\}|\d+\.\d+\.\d+)$", image);
        }
    }

    [Fact]
    public void Dockerignore_keeps_what_the_build_needs_in_the_context()
    {
        var ignored = File.ReadAllLines(Path.Combine(Repository.Root, ".dockerignore"))
            .Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#')).Select(l => l.TrimEnd('/')).ToHashSet();
        string[] needed = ["src", "protos", "global.json", "Directory.Build.props", "Directory.Packages.props", "*.props", "*.json", "*.csproj", "**/*.csproj"];
        Assert.DoesNotContain(needed, ignored.Contains);
    }

    /// <summary>An ELF shared object for x86-64 (e_machine 62).</summary>
    private static bool IsLinuxX64(string path)
    {
        var header = new byte[20];
        using (var file = File.OpenRead(path))
        {
            file.ReadExactly(header);
        }

        return header[0] == 0x7f && header[1] == (byte)'E' && header[2] == (byte)'L' && header[3] == (byte)'F' && BitConverter.ToUInt16(header, 18) == 62;
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
