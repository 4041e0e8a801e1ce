using System.ComponentModel.DataAnnotations;
using TaskBudgets.Governance.Quotas;

namespace TaskBudgets.Governance.Grants;

/// <summary>How long grants hold their reservations. Bound from the "Grants" section.</summary>
public sealed class GrantOptions
{
    public const string Section = "Grants";

    /// <summary>An unreported, unreleased grant expires after this and gives its capacity back. Default 10 min.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan Ttl { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>How often expired grants are swept. Default 1 s.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:01:00")]
    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Grant signing keys, each an id carried in its grant tokens and a key (base64, at least 32
    /// bytes): the first signs, every one verifies. Default none: the key the database holds signs.
    /// </summary>
    public List<GrantSigningKey> SigningKeys { get; } = [];

    /// <summary>
    /// A key (base64 of 32 bytes) that encrypts the grant signing key the database holds
    /// (AES-256-GCM). Default empty: that key is stored in clear, and a warning says so at start.
    /// </summary>
    public string KeyEncryptionKey { get; set; } = string.Empty;

    /// <summary>A JSON file holding the signing keys (`[{"Id": "…", "Key": "…"}]`), used when <see cref="SigningKeys"/> is empty.</summary>
    public string SigningKeysFile { get; set; } = string.Empty;
}

/// <summary>One grant signing key of Grants:SigningKeys.</summary>
public sealed class GrantSigningKey
{
    public string Id { get; set; } = string.Empty;

    /// <summary>The key, base64 (standard or url-safe), at least 32 bytes.</summary>
    public string Key { get; set; } = string.Empty;
}
