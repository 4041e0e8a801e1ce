using Microsoft.Extensions.Options;

namespace TaskBudgets.Gateway.Settings;

/// <summary>
/// The provider credentials, read once at start from each route's ApiKeyFile (a mounted secret)
/// or ApiKey. They go upstream only; nothing logs them.
/// </summary>
public sealed class ProviderCredentials(IOptions<GatewayOptions> options)
{
    private readonly string anthropic = Read(options.Value.Anthropic);
    private readonly string openAi = Read(options.Value.OpenAi);
    private readonly string gemini = Read(options.Value.Gemini);

    public string Anthropic => anthropic;

    public string OpenAi => openAi;

    public string Gemini => gemini;

    private static string Read(ProviderRouteOptions route) =>
        !route.Enabled ? string.Empty
        : route.ApiKeyFile is { Length: > 0 } file ? File.ReadAllText(file).Trim()
        : route.ApiKey?.Trim() ?? string.Empty;

    /// <inheritdoc />
    public override string ToString() => "ProviderCredentials (redacted)";
}
