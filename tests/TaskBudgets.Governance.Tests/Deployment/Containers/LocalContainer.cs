using System.Globalization;
using TaskBudgets.Governance.Tests.Infrastructure;

namespace TaskBudgets.Governance.Tests.Deployment.Containers;

/// <summary>
/// A container of the server image run as a local process, configured only as the container would
/// be: its arguments, its environment and its mounts. What a container engine would map is mapped
/// here: each mount path to a local folder, the container's two ports to free loopback ports, and
/// "listen on every interface" to loopback. The image is the folder holding the server's dll, as
/// WORKDIR /app holds the published server in the image.
/// </summary>
public sealed record LocalContainer(
    string ImageDirectory,
    IReadOnlyList<string> Arguments,
    IReadOnlyDictionary<string, string> Environment,
    IReadOnlyDictionary<string, string> Mounts,
    int GrpcPort,
    int HttpPort)
{
    private const string Entrypoint = "TaskBudgets.Governance.dll";

    /// <summary>The server this repository built, as the image's content.</summary>
    public static string BuiltImage => Path.GetDirectoryName(LocalServer.BuiltAssembly(Repository.Configuration))!;

    /// <summary>The local folder a container path is mounted from.</summary>
    public string HostPath(string containerPath) => Localise(containerPath, 0, 0);

    /// <summary>Starts the server and waits until it is ready on the port its environment names for HTTP.</summary>
    public async Task<RunningContainer> StartAsync()
    {
        var server = await LocalServer.StartAsync(Path.Combine(ImageDirectory, Entrypoint), ImageDirectory, Arguments, (grpc, http) => LocalEnvironment(grpc, http));
        return new RunningContainer(this, server);
    }

    /// <summary>Runs a container that is meant to finish (a migration).</summary>
    public Task<CommandResult> RunToCompletionAsync() =>
        Command.RunAsync("dotnet", [Path.Combine(ImageDirectory, Entrypoint), .. Arguments], ImageDirectory, LocalEnvironment(FreePort.Next(), FreePort.Next()));

    /// <summary>Runs another command in the image beside a started container (as `docker exec` does): the same environment, mounts and ports.</summary>
    public Task<CommandResult> ExecAsync(IReadOnlyList<string> command, int grpcPort, int httpPort) =>
        Command.RunAsync(command[0], command.Skip(1), ImageDirectory, LocalEnvironment(grpcPort, httpPort), TimeSpan.FromMinutes(1));

    private Dictionary<string, string> LocalEnvironment(int grpcPort, int httpPort) =>
        Environment.ToDictionary(e => e.Key, e => Localise(e.Value, grpcPort, httpPort));

    private string Localise(string value, int grpcPort, int httpPort)
    {
        if (value == GrpcPort.ToString(CultureInfo.InvariantCulture))
        {
            return grpcPort.ToString(CultureInfo.InvariantCulture);
        }

        if (value == HttpPort.ToString(CultureInfo.InvariantCulture))
        {
            return httpPort.ToString(CultureInfo.InvariantCulture);
        }

        if (value is "0.0.0.0" or "*" or "[::]")
        {
            return "127.0.0.1";
        }

        foreach (var (containerPath, hostPath) in Mounts)
        {
            if (value == containerPath || value.StartsWith(containerPath.TrimEnd('/') + "/", StringComparison.Ordinal))
            {
                return hostPath + value[containerPath.TrimEnd('/').Length..];
            }
        }

        return value;
    }
}
