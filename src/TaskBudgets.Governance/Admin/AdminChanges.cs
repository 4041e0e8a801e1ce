using System.Buffers.Text;
using System.Security.Cryptography;
using Google.Protobuf;
using Microsoft.EntityFrameworkCore;
using TaskBudgets.Governance.Auth;
using TaskBudgets.Governance.Policies;
using TaskBudgets.Governance.Storage;

namespace TaskBudgets.Governance.Admin;

/// <summary>What a change did: its result, and the resource before and after (null: did not exist).</summary>
public sealed record Change<T>(T Result, string ResourceType, string ResourceId, string OrgId, IMessage? Before, IMessage? After);

/// <summary>
/// Runs every admin change the same way: one transaction that first moves the policy version on
/// (a conditional update, which also serialises concurrent changes), then makes the change and
/// writes its audit event. A change that changes nothing is rolled back and bumps nothing. This
/// replica reloads the policy at once; the others within Policy:RefreshInterval.
/// </summary>
public sealed partial class AdminChanges(
    IDbContextFactory<GovernanceDbContext> contexts,
    PolicyRefresh refresh,
    TimeProvider time,
    ILogger<AdminChanges> logger)
{
    private const int Attempts = 8;
    private static readonly JsonFormatter Json = new(JsonFormatter.Settings.Default.WithPreserveProtoFieldNames(true));

    /// <summary>Runs <paramref name="work"/> as one audited change by <paramref name="who"/>.</summary>
    public async Task<T> RunAsync<T>(CallerIdentity who, string action, Func<GovernanceDbContext, Task<Change<T>>> work, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(who);
        ArgumentNullException.ThrowIfNull(work);
        for (var attempt = 0; attempt < Attempts; attempt++)
        {
            await using var db = await contexts.CreateDbContextAsync(cancellationToken);
            var version = await PolicyRows.ReadVersionAsync(db, cancellationToken);
            await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
            if (!await PolicyRows.TryBumpVersionAsync(db, version, cancellationToken))
            {
                await transaction.RollbackAsync(cancellationToken);
                continue;
            }

            var change = await work(db);
            var before = change.Before is null ? string.Empty : Json.Format(WithoutEtag(change.Before));
            var after = change.After is null ? string.Empty : Json.Format(WithoutEtag(change.After));
            if (before == after)
            {
                await transaction.RollbackAsync(cancellationToken);
                return change.Result;
            }

            db.AuditEvents.Add(new AuditEventRow
            {
                AtMs = time.GetUtcNow().ToUnixTimeMilliseconds(),
                Actor = who.KeyId,
                Action = action,
                ResourceType = change.ResourceType,
                ResourceId = change.ResourceId,
                OrgId = change.OrgId,
                Before = before,
                After = after,
                PolicyVersion = version + 1,
            });
            await db.SaveChangesAsync(cancellationToken);
            await transaction.CommitAsync(cancellationToken);
            LogChanged(logger, who.KeyId, action, change.ResourceType, change.ResourceId, version + 1);
            await refresh.RefreshAsync(cancellationToken);
            return change.Result;
        }

        throw new GovernanceException(RefusalKind.Aborted, "CONCURRENT_CHANGE", "Other changes kept winning the race; retry.");
    }

    /// <summary>A resource's etag: a hash of its content, so it changes exactly when the resource does.</summary>
    public static string Etag(IMessage resource)
    {
        ArgumentNullException.ThrowIfNull(resource);
        var hash = SHA256.HashData(WithoutEtag(resource).ToByteArray());
        return Base64Url.EncodeToString(hash.AsSpan(0, 12));
    }

    /// <summary>ABORTED (ETAG_MISMATCH) unless <paramref name="given"/> is empty or the current etag.</summary>
    public static void CheckEtag(string given, IMessage? current, string what)
    {
        if (given.Length > 0 && (current is null || !string.Equals(given, Etag(current), StringComparison.Ordinal)))
        {
            throw GovernanceException.EtagMismatch(what);
        }
    }

    private static IMessage WithoutEtag(IMessage resource)
    {
        var field = resource.Descriptor.FindFieldByName("etag");
        if (field is null)
        {
            return resource;
        }

        var copy = resource.Descriptor.Parser.ParseFrom(resource.ToByteString());
        field.Accessor.Clear(copy);
        return copy;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Key {KeyId}: {Action} {ResourceType} '{ResourceId}', policy version {Version}.")]
    private static partial void LogChanged(ILogger logger, string keyId, string action, string resourceType, string resourceId, long version);
}
