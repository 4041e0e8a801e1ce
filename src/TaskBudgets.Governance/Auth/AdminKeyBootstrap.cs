using Microsoft.Extensions.Options;
using TaskBudgets.Governance.Storage;

namespace TaskBudgets.Governance.Auth;

/// <summary>
/// The first admin key, before the server listens: Auth:AdminKey, else the file Auth:AdminKeyFile,
/// else "admin-key" in Storage:DataDirectory; when that file does not exist either, a new key is
/// generated and saved there, readable by the owner only (0600). The log names the file and the
/// key id, never the key. A key that is too weak (<see cref="ApiKeySecrets.Weakness"/>) stops the start.
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
            return Read(options.AdminKeyFile, "Auth:AdminKeyFile");
        }

        var path = Path.Combine(storage.Value.DataDirectory, FileName);
        if (File.Exists(path))
        {
            return Read(path, "Storage:DataDirectory's " + FileName);
        }

        StorageSetup.CreateDataDirectory(storage.Value.DataDirectory);
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

        LogGenerated(logger, KeyDirectory.BootstrapKeyId, Path.GetFullPath(path));
        return secret;
    }

    private static string Read(string path, string setting)
    {
        var secret = File.ReadAllText(path).Trim();
        if (secret.Length == 0)
        {
            throw new InvalidOperationException($"The admin key file '{path}' is empty.");
        }

        // Options validation has checked Auth:AdminKeyFile already; this catches the data directory's file.
        return AuthOptionsValidation.Problem($"{setting} ({path})", secret) is { } problem
            ? throw new OptionsValidationException(AuthOptions.Section, typeof(AuthOptions), [problem])
            : secret;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "No admin key configured: generated the first admin key (key id {KeyId}) into {Path}, readable by its owner only; read it from there. Set Auth:AdminKey or Auth:AdminKeyFile in production.")]
    private static partial void LogGenerated(ILogger logger, string keyId, string path);
}
