using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using TaskBudgets.Governance.Storage;

namespace TaskBudgets.Governance.Auth;

/// <summary>
/// Finds the key behind a bearer secret: the first admin key (from configuration, in memory) or a
/// key of the api_keys table, looked up by hash. A key found is cached for Auth:KeyCacheTtl, which
/// bounds how long a revoked key still works on another replica. A secret that is no key is
/// remembered for Auth:UnknownKeyCacheTtl in a cache of its own, bounded apart, so that repeating
/// it costs no database lookup and a flood of them cannot push known keys out.
/// </summary>
public sealed class KeyDirectory(IDbContextFactory<GovernanceDbContext> contexts, IOptions<AuthOptions> options, TimeProvider time)
{
    /// <summary>The public id of the first admin key (the one from configuration or the key file).</summary>
    public const string BootstrapKeyId = "bootstrap-admin";

    private const int MaxCached = 10_000;
    private const int MaxUnknownCached = 10_000;
    private static readonly CallerIdentity Bootstrap = new(BootstrapKeyId, KeyRole.Admin, string.Empty);
    private readonly ConcurrentDictionary<SecretDigest, Entry> cache = new();
    private readonly ConcurrentDictionary<SecretDigest, DateTimeOffset> unknown = new();
    private readonly TimeSpan ttl = options.Value.KeyCacheTtl;
    private readonly TimeSpan unknownTtl = options.Value.UnknownKeyCacheTtl;
    private byte[] bootstrapSecret = [];
    private long databaseLookups;

    /// <summary>What is known of a secret without the database.</summary>
    public enum Known
    {
        /// <summary>A key: the first admin key, or one found within Auth:KeyCacheTtl.</summary>
        Key,

        /// <summary>Not a key: empty, too long, not of a key's form, or not found within Auth:UnknownKeyCacheTtl.</summary>
        NotAKey,

        /// <summary>Only the database can tell (<see cref="LookUpAsync"/>).</summary>
        Unseen,
    }

    /// <summary>Lookups this replica made in the database since it started.</summary>
    public long DatabaseLookups => Interlocked.Read(ref databaseLookups);

    /// <summary>Sets the first admin key; done once at start-up.</summary>
    public void UseBootstrapKey(string secret)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(secret);
        bootstrapSecret = Encoding.UTF8.GetBytes(secret);
    }

    /// <summary>The key's identity, or null for an unknown or revoked key.</summary>
    /// <param name="secret">The bearer secret, as a span of the header: a cached key is found without copying it.</param>
    public ValueTask<CallerIdentity?> FindAsync(ReadOnlySpan<char> secret, CancellationToken cancellationToken) =>
        Cached(secret, out var identity) == Known.Unseen ? LookUpAsync(secret, cancellationToken) : ValueTask.FromResult(identity);

    /// <summary>What the caches say of <paramref name="secret"/>; <paramref name="identity"/> is set for <see cref="Known.Key"/>.</summary>
    public Known Cached(ReadOnlySpan<char> secret, out CallerIdentity? identity)
    {
        identity = null;
        if (secret.Length == 0 || secret.Length > ApiKeySecrets.MaxLength)
        {
            return Known.NotAKey;
        }

        if (IsBootstrap(secret))
        {
            identity = Bootstrap;
            return Known.Key;
        }

        if (!secret.StartsWith(ApiKeySecrets.Prefix, StringComparison.Ordinal))
        {
            return Known.NotAKey;
        }

        var digest = SecretDigest.Of(secret);
        var now = time.GetUtcNow();
        if (cache.TryGetValue(digest, out var cached) && cached.Until > now)
        {
            identity = cached.Identity;
            return Known.Key;
        }

        return unknown.TryGetValue(digest, out var until) && until > now ? Known.NotAKey : Known.Unseen;
    }

    /// <summary>Looks the secret up in the database (a secret not of a key's form is not), and caches the answer.</summary>
    public ValueTask<CallerIdentity?> LookUpAsync(ReadOnlySpan<char> secret, CancellationToken cancellationToken) =>
        secret.Length == 0 || secret.Length > ApiKeySecrets.MaxLength || !secret.StartsWith(ApiKeySecrets.Prefix, StringComparison.Ordinal)
            ? ValueTask.FromResult<CallerIdentity?>(null)
            : LookUpDigestAsync(SecretDigest.Of(secret), time.GetUtcNow(), cancellationToken);

    private async ValueTask<CallerIdentity?> LookUpDigestAsync(SecretDigest digest, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var hash = digest.ToHex();
        Interlocked.Increment(ref databaseLookups);
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var row = await db.ApiKeys.AsNoTracking()
            .Where(k => k.Hash == hash && k.RevokedAtMs == null)
            .Select(k => new { k.Id, k.Role, k.OrgId })
            .FirstOrDefaultAsync(cancellationToken);
        if (row is null)
        {
            if (unknownTtl > TimeSpan.Zero)
            {
                if (unknown.Count >= MaxUnknownCached)
                {
                    unknown.Clear();
                }

                unknown[digest] = now + unknownTtl;
            }

            return null;
        }

        var identity = new CallerIdentity(row.Id, (KeyRole)row.Role, row.OrgId);
        if (cache.Count >= MaxCached)
        {
            cache.Clear();
        }

        cache[digest] = new Entry(identity, now + ttl);
        unknown.TryRemove(digest, out _);
        return identity;
    }

    // Every call pays this, so it compares bytes in constant time rather than hashing: the first
    // admin key is in this process's configuration anyway.
    private bool IsBootstrap(ReadOnlySpan<char> secret)
    {
        if (bootstrapSecret.Length == 0)
        {
            return false;
        }

        Span<byte> utf8 = stackalloc byte[ApiKeySecrets.MaxLength * 3];
        var length = Encoding.UTF8.GetBytes(secret, utf8);
        return CryptographicOperations.FixedTimeEquals(bootstrapSecret, utf8[..length]);
    }

    /// <summary>Forgets every cached lookup: a key was revoked here, so it is refused here at once.</summary>
    public void Invalidate()
    {
        cache.Clear();
        unknown.Clear();
    }

    private sealed record Entry(CallerIdentity Identity, DateTimeOffset Until);

    /// <summary>
    /// A secret's SHA-256 as a value, so the cache is looked up without the hex string the
    /// database holds (made only on a miss), and keeps no secret in memory.
    /// </summary>
    private readonly record struct SecretDigest(UInt128 High, UInt128 Low)
    {
        public static SecretDigest Of(ReadOnlySpan<char> secret)
        {
            Span<byte> digest = stackalloc byte[SHA256.HashSizeInBytes];
            ApiKeySecrets.Digest(secret, digest);
            return new SecretDigest(BinaryPrimitives.ReadUInt128BigEndian(digest), BinaryPrimitives.ReadUInt128BigEndian(digest[16..]));
        }

        /// <summary>As the database holds it (<see cref="ApiKeySecrets.Hash"/>).</summary>
        public string ToHex()
        {
            Span<byte> digest = stackalloc byte[SHA256.HashSizeInBytes];
            BinaryPrimitives.WriteUInt128BigEndian(digest, High);
            BinaryPrimitives.WriteUInt128BigEndian(digest[16..], Low);
            return ApiKeySecrets.HashText(digest);
        }
    }
}
