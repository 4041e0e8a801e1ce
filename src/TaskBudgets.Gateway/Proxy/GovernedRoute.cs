using TaskBudgets.Gateway.Settings;
using TaskBudgets.Gateway.Providers;

namespace TaskBudgets.Gateway.Proxy;

/// <summary>A configured provider route: its settings, where its calls go and with which credential.</summary>
internal sealed class GovernedRoute(ProviderRouteOptions options, string credential)
{
    public ProviderRouteOptions Options => options;

    /// <summary>The upstream base URL without a trailing slash; the call's path and query follow it.</summary>
    public string UpstreamPrefix { get; } = options.UpstreamBaseUrl?.ToString().TrimEnd('/') ?? string.Empty;

    public string Credential => credential;

    public ProviderRewrite Rewrite { get; } = new(options.AllowRaise, options.IncludeStreamUsage);

    /// <inheritdoc />
    public override string ToString() => $"{UpstreamPrefix} (credential redacted)";
}
