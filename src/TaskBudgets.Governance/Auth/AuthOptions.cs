using System.ComponentModel.DataAnnotations;

namespace TaskBudgets.Governance.Auth;

/// <summary>Keys and request limits. Bound from the "Auth" section.</summary>
public sealed class AuthOptions
{
    public const string Section = "Auth";

    /// <summary>The first admin key. Default empty: not configured (see <see cref="AdminKeyFile"/>).</summary>
    public string AdminKey { get; set; } = string.Empty;

    /// <summary>
    /// A file holding the first admin key, used when <see cref="AdminKey"/> is empty. Default empty:
    /// the key is read from, or generated into, "admin-key" in Storage:DataDirectory.
    /// </summary>
    public string AdminKeyFile { get; set; } = string.Empty;

    /// <summary>Requests per second each key may make on one replica (token bucket refill). Default 1000.</summary>
    [Range(0.1, 10_000_000.0)]
    public double RequestsPerSecond { get; set; } = 1000;

    /// <summary>Requests a key may make at once before the rate applies (token bucket size). Default 2000.</summary>
    [Range(1, 100_000_000)]
    public int RequestBurst { get; set; } = 2000;

    /// <summary>
    /// How long a replica trusts a key lookup. A key revoked on another replica is refused
    /// everywhere within this time (at once on the replica that revoked it). Default 10 s.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:10:00")]
    public TimeSpan KeyCacheTtl { get; set; } = TimeSpan.FromSeconds(10);
}
