using System.Buffers.Text;
using System.Security.Cryptography;
using Google.Protobuf;
using TaskBudgets.Governance.Auth;
using TaskBudgets.Governance.Policies;
using TaskBudgets.Governance.Storage;

namespace TaskBudgets.Governance.Admin;

/// <summary>What a change did: its result, and the resource before and after (null: did not exist).</summary>
public sealed record Change<T>(T Result, string ResourceType, string ResourceId, string OrgId, IMessage? Before, IMessage? After);

/// <summary>
/// Runs every admin change the same way, through <see cref="ControlPlaneWriter"/>: one transaction
/// that moves the policy version on, makes the change and writes its audit event. A change that
/// changes nothing (the same resource before and after) is rolled back and bumps nothing. This
/// replica reloads the policy at once; the others within Policy:RefreshInterval.
/// </summary>
public sealed partial class AdminChanges(
    ControlPlaneWriter writer,
    PolicyRefresh refresh,
    TimeProvider time,
    ILogger<AdminChanges> logger)
{
    private static readonly JsonFormatter Json = new(JsonFormatter.Settings.Default.WithPreserveProtoFieldNames(true));

    /// <summary>
    /// Runs <paramref name="work"/> as one audited change by <paramref name="who"/>: it reads through
    /// the context and records its writes in the edits, which Storage writes with the audit event.
    /// </summary>
    public async Task<T> RunAsync<T>(CallerIdentity who, string action, Func<GovernanceDbContext, ControlPlaneEdits, Task<Change<T>>> work, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(who);
        ArgumentNullException.ThrowIfNull(work);
        var outcome = await writer.ChangeAsync(
            async (db, edits) =>
            {
                var change = await work(db, edits);
                var before = change.Before is null ? string.Empty : Json.Format(WithoutEtag(change.Before));
                var after = change.After is null ? string.Empty : Json.Format(WithoutEtag(change.After));
                var audit = before == after ? null : new AuditEventRow
                {
                    AtMs = time.GetUtcNow().ToUnixTimeMilliseconds(),
                    Actor = who.KeyId,
                    Action = action,
                    ResourceType = change.ResourceType,
                    ResourceId = change.ResourceId,
                    OrgId = change.OrgId,
                    Before = before,
                    After = after,
                };
                return new AuditedChange<T>(change.Result, audit);
            },
            cancellationToken) ?? throw new GovernanceException(RefusalKind.Aborted, "CONCURRENT_CHANGE", "Other changes kept winning the race; retry.");
        if (outcome.Audit is { } written)
        {
            LogChanged(logger, who.KeyId, action, written.ResourceType, written.ResourceId, written.PolicyVersion);
            await refresh.RefreshAsync(cancellationToken);
        }

        return outcome.Result;
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
