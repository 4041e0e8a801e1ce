using Microsoft.Extensions.Options;
using TaskBudgets.Governance.Storage;

namespace TaskBudgets.Governance.Auth;

/// <summary>
/// The first admin key, before the server listens: Auth:AdminKey, else the file Auth:AdminKeyFile,
/// else "admin-key" in Storage:DataDirectory; when that file does not exist either, a new key is
/// generated, logged once and saved there, readable by the owner only (0600).
/// </summary>
public sealed partial class AdminKeyBootstrap(
    KeyDirectory keys,
    IOptions<AuthOptions> auth,
    IOptions<StorageOptions> storage,
    ILogger<AdminKeyBootstrap> logger) : IHostedService
{
    /// <summary>The file name of the generated admin key in the data directory; other tooling reads it.</summary>
    public const string FileName = "admin-key";

    public Task StartAsync(CancellationToken cancellationToken)
    {
        keys.UseBootstrapKey(Resolve());
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private string Resolve()
    {
        var options = auth.Value;
        if (options.AdminKey.Length > 0)
        {
            return options.AdminKey.Trim();
        }

        if (options.AdminKeyFile.Length > 0)
        {
            return Read(options.AdminKeyFile);
        }

        var path = Path.Combine(storage.Value.DataDirectory, FileName);
        if (File.Exists(path))
        {
            return Read(path);
        }

        Directory.CreateDirectory(storage.Value.DataDirectory);
        var secret = ApiKeySecrets.NewSecret();
        var file = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            file.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using (var stream = new FileStream(path, file))
        using (var writer = new StreamWriter(stream))
        {
            writer.Write(secret + "\n");
        }

        LogGenerated(logger, secret, Path.GetFullPath(path));
        return secret;
    }

    private static string Read(string path)
    {
        var secret = File.ReadAllText(path).Trim();
        return secret.Length > 0 ? secret : throw new InvalidOperationException($"The admin key file '{path}' is empty.");
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "No admin key configured: generated the first admin key {Key} and saved it to {Path} (owner-only). It is not logged again; set Auth:AdminKey or Auth:AdminKeyFile in production.")]
    private static partial void LogGenerated(ILogger logger, string key, string path);
}
