using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Grpc.Net.Client;
using TaskBudgets.V1;

namespace TaskBudgets.Cli;

/// <summary>
/// Where the server is, which key to send and how to trust it over TLS: flags first, then the
/// environment (TASKBUDGETS_ADDRESS, TASKBUDGETS_API_KEY, TASKBUDGETS_CA_CERT,
/// TASKBUDGETS_CLIENT_CERT, TASKBUDGETS_CLIENT_KEY), then the config file
/// (~/.config/taskbudgets/config.json: {"address": "...", "api_key": "...", "ca_cert": "...", ...}).
/// </summary>
internal sealed class Connection : IDisposable
{
    public const string DefaultAddress = "http://localhost:8080";
    private static readonly JsonSerializerOptions SnakeCase = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };
    private readonly GrpcChannel channel;
    private readonly CallInvoker invoker;

    public Connection(string address, string key, TlsFiles tls)
    {
        ArgumentNullException.ThrowIfNull(tls);
        Address = address.Contains("://", StringComparison.Ordinal) ? address : "http://" + address;
        var https = Address.StartsWith("https://", StringComparison.OrdinalIgnoreCase);
        if (!https && tls.Any)
        {
            throw new UsageException($"--ca-cert, --client-cert and --client-key need an https:// address, not {Address}.");
        }

        channel = GrpcChannel.ForAddress(Address, new GrpcChannelOptions { HttpHandler = https ? Handler(tls) : null, DisposeHttpClient = true });
        invoker = channel.Intercept(headers =>
        {
            headers.Add("authorization", "Bearer " + key);
            return headers;
        });
    }

    public string Address { get; }

    public AdminService.AdminServiceClient Admin => new(invoker);

    public BudgetService.BudgetServiceClient Budgets => new(invoker);

    /// <summary>Resolves the address, key and TLS files from flags, environment and config file.</summary>
    public static Connection Open(CliApp.ConnectionFlags flags, Func<string, string?> env)
    {
        ArgumentNullException.ThrowIfNull(flags);
        ArgumentNullException.ThrowIfNull(env);
        var config = ReadConfig(flags.Config ?? ConfigPath(env));
        var address = First(flags.Address, env("TASKBUDGETS_ADDRESS"), config.Address) ?? DefaultAddress;
        var key = First(flags.Key, env("TASKBUDGETS_API_KEY"), config.ApiKey)
            ?? throw new NoKeyException("No API key: pass --key, set TASKBUDGETS_API_KEY, or put \"api_key\" in ~/.config/taskbudgets/config.json.");
        var tls = new TlsFiles(
            First(flags.CaCert, env("TASKBUDGETS_CA_CERT"), config.CaCert),
            First(flags.ClientCert, env("TASKBUDGETS_CLIENT_CERT"), config.ClientCert),
            First(flags.ClientKey, env("TASKBUDGETS_CLIENT_KEY"), config.ClientKey));
        return new Connection(address, key, tls);
    }

    public void Dispose() => channel.Dispose();

    /// <summary>
    /// Trusts the system's CAs, or only the CA bundle given; presents the client certificate when
    /// given (mTLS).
    /// </summary>
    private static SocketsHttpHandler Handler(TlsFiles tls)
    {
        var handler = new SocketsHttpHandler { EnableMultipleHttp2Connections = true };
        if (tls.CaCert is { } caPath)
        {
            var cas = new X509Certificate2Collection();
            try
            {
                cas.ImportFromPemFile(caPath);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or CryptographicException)
            {
                throw new UsageException($"--ca-cert {caPath}: {e.Message}");
            }

            if (cas.Count == 0)
            {
                throw new UsageException($"--ca-cert {caPath}: no PEM certificate in it.");
            }

            handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, errors) => IsTrusted(cas, certificate, errors);
        }

        if ((tls.ClientCert is null) != (tls.ClientKey is null))
        {
            throw new UsageException("--client-cert and --client-key go together: the PEM certificate and its private key.");
        }

        if (tls.ClientCert is { } certPath && tls.ClientKey is { } keyPath)
        {
            try
            {
                using var pem = X509Certificate2.CreateFromPemFile(certPath, keyPath);

                // Exported and loaded again: an ephemeral PEM key cannot be used by the TLS stack on every platform.
                var client = X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
                handler.SslOptions.ClientCertificates = new X509CertificateCollection { client };
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or CryptographicException)
            {
                throw new UsageException($"--client-cert {certPath} / --client-key {keyPath}: {e.Message}");
            }
        }

        return handler;
    }

    private static bool IsTrusted(X509Certificate2Collection cas, X509Certificate? certificate, SslPolicyErrors errors)
    {
        if (certificate is null || (errors & (SslPolicyErrors.RemoteCertificateNameMismatch | SslPolicyErrors.RemoteCertificateNotAvailable)) != 0)
        {
            return false;
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(cas);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(certificate as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(certificate.GetRawCertData()));
    }

    private static string? First(params string?[] values) => values.FirstOrDefault(v => !string.IsNullOrWhiteSpace(v))?.Trim();

    private static string ConfigPath(Func<string, string?> env)
    {
        var root = env("XDG_CONFIG_HOME") is { Length: > 0 } xdg
            ? xdg
            : Path.Combine(env("HOME") ?? Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".config");
        return Path.Combine(root, "taskbudgets", "config.json");
    }

    private static ConfigFile ReadConfig(string path)
    {
        if (!File.Exists(path))
        {
            return new ConfigFile();
        }

        try
        {
            return JsonSerializer.Deserialize<ConfigFile>(File.ReadAllText(path), SnakeCase) ?? new ConfigFile();
        }
        catch (JsonException e)
        {
            throw new UsageException($"The config file {path} is not valid JSON: {e.Message}");
        }
    }

    /// <summary>PEM files for TLS: the CA bundle to trust instead of the system's, and a client certificate with its key.</summary>
    internal sealed record TlsFiles(string? CaCert, string? ClientCert, string? ClientKey)
    {
        public bool Any => CaCert is not null || ClientCert is not null || ClientKey is not null;
    }

    private sealed class ConfigFile
    {
        public string? Address { get; set; }

        public string? ApiKey { get; set; }

        public string? CaCert { get; set; }

        public string? ClientCert { get; set; }

        public string? ClientKey { get; set; }
    }
}
