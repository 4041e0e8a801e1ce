using System.Globalization;
using System.Security.Cryptography;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using TaskBudgets.Governance.Grants;
using TaskBudgets.Governance.Policies;
using TaskBudgets.Governance.Quotas;
using TaskBudgets.Governance.Storage;
using TaskBudgets.Policies;

namespace TaskBudgets.Governance.Hosting;

/// <summary>
/// Before the server listens: migrate (when configured), share the grant signing key through the
/// database, seed the policy from its file, and load it.
/// </summary>
public sealed partial class DatabaseStartup(
    IDbContextFactory<GovernanceDbContext> contexts,
    IOptions<StorageOptions> storage,
    IOptions<PolicyOptions> policy,
    IOptions<GrantOptions> grants,
    IOptions<LeaseOptions> leases,
    IHostEnvironment environment,
    PolicyCatalog catalog,
    GrantTokens tokens,
    TimeProvider time,
    ILogger<DatabaseStartup> logger) : IHostedService
{
    public bool Ready { get; private set; }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        if (storage.Value.MigrateOnStart)
        {
            await db.Database.MigrateAsync(cancellationToken);
        }

        await UseSigningKeysAsync(db, cancellationToken);
        await SeedAsync(db, cancellationToken);
        var snapshot = await StoredPolicy.LoadAsync(db, cancellationToken);
        catalog.Replace(snapshot);
        LogLoaded(logger, snapshot.Version, snapshot.Orgs.Count, snapshot.Tiers.Count, snapshot.Models.Count);
        Ready = true;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Applies pending migrations; the "migrate" command. Returns the names of those it applied, oldest first (none when the schema was current).</summary>
    public static async Task<IReadOnlyList<string>> MigrateAsync(IServiceProvider services, CancellationToken cancellationToken)
    {
        var factory = services.GetRequiredService<IDbContextFactory<GovernanceDbContext>>();
        await using var db = await factory.CreateDbContextAsync(cancellationToken);
        var pending = (await db.Database.GetPendingMigrationsAsync(cancellationToken)).ToList();
        await db.Database.MigrateAsync(cancellationToken);
        return pending;
    }

    private async Task SeedAsync(GovernanceDbContext db, CancellationToken cancellationToken)
    {
        var options = policy.Value;
        if (options.ApplyOnStart == PolicyApply.Never
            || (options.ApplyOnStart == PolicyApply.IfEmpty && !await PolicyRows.IsEmptyAsync(db, cancellationToken)))
        {
            return;
        }

        var path = Path.IsPathRooted(options.File) ? options.File : Path.Combine(environment.ContentRootPath, options.File);
        if (!File.Exists(path))
        {
            path = Path.Combine(AppContext.BaseDirectory, options.File);
        }

        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"Policy file '{options.File}' not found (Policy:File).", options.File);
        }

        var snapshot = PolicyDocument.Load(path).ToSnapshot(0);
        var version = await StoredPolicy.ReplaceAsync(db, snapshot, cancellationToken);
        LogSeeded(logger, path, version);
    }

    // Configured keys sign when given (the first signs, all verify). The key the database holds
    // then still verifies the grants it signed before, until they have all expired (a grant
    // lives Grants:Ttl, counted late within Leases:MaxClockSkew).
    private async Task UseSigningKeysAsync(GovernanceDbContext db, CancellationToken cancellationToken)
    {
        var configured = GrantSigningKeys.Configured(grants.Value);
        if (configured.Count == 0)
        {
            tokens.UseKey(await SigningKeyAsync(db, cancellationToken));
            return;
        }

        tokens.UseKeys(configured);
        if (configured.All(k => k.Id.Length > 0) && await SettingRows.ReadAsync(db, SettingRow.GrantSigningKey, cancellationToken) is { } stored)
        {
            tokens.AlsoVerifyStoredKey(GrantSigningKeys.Open(stored, GrantSigningKeys.EncryptionKey(grants.Value)), time.GetUtcNow() + grants.Value.Ttl + leases.Value.MaxClockSkew, time);
        }

        LogSigningKeys(logger, configured[0].Id, configured.Count);
    }

    // Every replica signs grants with the same key: the first to start stores one, the rest read it.
    // Encrypted under Grants:KeyEncryptionKey when it is set (a key stored in clear before is
    // encrypted in place); in clear otherwise, which the log says once.
    private async Task<byte[]> SigningKeyAsync(GovernanceDbContext db, CancellationToken cancellationToken)
    {
        var kek = GrantSigningKeys.EncryptionKey(grants.Value);
        var stored = await SettingRows.ReadOrAddAsync(db, SettingRow.GrantSigningKey, () => GrantSigningKeys.Seal(RandomNumberGenerator.GetBytes(32), kek), cancellationToken)
            ?? throw new InvalidOperationException("Could not read or create the grant signing key at " + time.GetUtcNow().ToString("O", CultureInfo.InvariantCulture));
        var key = GrantSigningKeys.Open(stored, kek);
        if (kek is null)
        {
            LogStoredInClear(logger);
        }
        else if (!GrantSigningKeys.IsSealed(stored))
        {
            await SettingRows.ReplaceAsync(db, SettingRow.GrantSigningKey, stored, GrantSigningKeys.Seal(key, kek), cancellationToken);
        }

        return key;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The grant signing key is stored in clear in the database (table settings): whoever reads the database can sign grant ids. Set Grants:SigningKeys, or Grants:KeyEncryptionKey to encrypt it.")]
    private static partial void LogStoredInClear(ILogger logger);

    [LoggerMessage(Level = LogLevel.Information, Message = "Policy version {Version} loaded: {Orgs} orgs, {Tiers} tiers, {Models} models.")]
    private static partial void LogLoaded(ILogger logger, long version, int orgs, int tiers, int models);

    [LoggerMessage(Level = LogLevel.Information, Message = "Grants are signed with the configured key {KeyId}; {Count} configured keys verify.")]
    private static partial void LogSigningKeys(ILogger logger, string keyId, int count);

    [LoggerMessage(Level = LogLevel.Information, Message = "Policy file {Path} applied as version {Version}.")]
    private static partial void LogSeeded(ILogger logger, string path, long version);
}
