using System.ComponentModel.DataAnnotations;

namespace TaskBudgets.Governance.Auth;

/// <summary>Keys and request limits. Bound from the "Auth" section.</summary>
public sealed class AuthOptions
{
    public const string Section = "Auth";

    /// <summary>
    /// The first admin key. Default empty: not configured (see <see cref="AdminKeyFile"/>). A
    /// configured key carries at least 32 random bytes (<see cref="ApiKeySecrets.Weakness"/>), or the
    /// server does not start.
    /// </summary>
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

    /// <summary>
    /// Failed authentications (no key, an unknown or revoked key) one client address may make at
    /// once before it is limited (token bucket size, per replica). Default 50.
    /// </summary>
    [Range(1, 1_000_000)]
    public int FailedAuthBurst { get; set; } = 50;

    /// <summary>Failed authentications per second one client address gets back (token bucket refill). Default 5.</summary>
    [Range(1, 1_000_000)]
    public int FailedAuthPerSecond { get; set; } = 5;

    /// <summary>
    /// How long a replica remembers that a secret is not a key, so that repeating it costs no
    /// database lookup. Kept apart from the cache of known keys. Default 5 s; 0 turns it off.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:01:00")]
    public TimeSpan UnknownKeyCacheTtl { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>At most one log line about failed authentications per this interval, with their count. Default 10 s.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan FailureLogInterval { get; set; } = TimeSpan.FromSeconds(10);
}
