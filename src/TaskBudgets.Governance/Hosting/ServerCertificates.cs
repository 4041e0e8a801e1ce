using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace TaskBudgets.Governance.Hosting;

/// <summary>
/// The server certificate and the client CA bundle in force, read from the files of
/// <see cref="ServerTlsOptions"/>. A handshake at most every <see cref="ServerTlsOptions.ReloadInterval"/>
/// reads the files again and, when their bytes changed, loads the new ones: new connections get
/// the new certificate, open ones keep theirs, and nothing restarts. A half-written rotation (a new
/// certificate with the old key) does not load; the old one stays until the next check.
/// </summary>
public sealed partial class ServerCertificates
{
    private static readonly Oid ClientAuthentication = new("1.3.6.1.5.5.7.3.2");
    private readonly ServerTlsOptions options;
    private readonly ILogger logger;
    private readonly Lock gate = new();
    private Loaded current;
    private long nextCheck;

    public ServerCertificates(ServerTlsOptions options, ILogger<ServerCertificates> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        this.options = options;
        this.logger = logger;
        current = Load(options, ReadFiles(options));
        nextCheck = Environment.TickCount64 + (long)options.ReloadInterval.TotalMilliseconds;
        LogLoaded(logger, current.Certificate.Subject, current.Certificate.SerialNumber, current.Certificate.NotAfter);
    }

    /// <summary>The certificate new connections get now.</summary>
    public X509Certificate2 Certificate => Current().Certificate;

    /// <summary>
    /// A handshake's TLS settings: the current certificate, and when a client CA is set, a client
    /// certificate asked for and checked against it (required when <paramref name="requireClientCertificate"/>).
    /// </summary>
    public SslServerAuthenticationOptions ForHandshake(bool requireClientCertificate)
    {
        var loaded = Current();
        var cas = loaded.ClientCas;
        return new SslServerAuthenticationOptions
        {
            ServerCertificateContext = loaded.Context,
            ClientCertificateRequired = cas is not null,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            RemoteCertificateValidationCallback = cas is null
                ? null
                : (_, certificate, chain, _) => IsTrustedClient(cas, certificate, chain, requireClientCertificate),
        };
    }

    /// <summary>What is wrong with the TLS settings or their files, in one line, or null.</summary>
    public static string? Check(ServerTlsOptions tls)
    {
        ArgumentNullException.ThrowIfNull(tls);
        const string S = ServerOptions.Section + ":Tls";
        var pem = !string.IsNullOrEmpty(tls.CertificatePath);
        var pfx = !string.IsNullOrEmpty(tls.PfxPath);
        if (pem && pfx)
        {
            return $"{S}: set CertificatePath and KeyPath (PEM) or PfxPath, not both.";
        }

        if (pem != !string.IsNullOrEmpty(tls.KeyPath))
        {
            return $"{S}:CertificatePath and {S}:KeyPath go together: the PEM certificate and its private key.";
        }

        if (!tls.Enabled && (!string.IsNullOrEmpty(tls.ClientCaPath) || tls.RequireClientCertificate))
        {
            return $"{S}:ClientCaPath and {S}:RequireClientCertificate need a server certificate ({S}:CertificatePath and KeyPath, or PfxPath).";
        }

        if (tls.RequireClientCertificate && string.IsNullOrEmpty(tls.ClientCaPath))
        {
            return $"{S}:RequireClientCertificate needs {S}:ClientCaPath, the CA bundle client certificates must chain to.";
        }

        if (tls.ReloadInterval < TimeSpan.Zero || tls.ReloadInterval > TimeSpan.FromDays(1))
        {
            return $"{S}:ReloadInterval must be between 00:00:00 and 1.00:00:00, not {tls.ReloadInterval}.";
        }

        if (!tls.Enabled)
        {
            return null;
        }

        try
        {
            Load(tls, ReadFiles(tls));
            return null;
        }
        catch (TlsFileException e)
        {
            return e.Message;
        }
    }

    private Loaded Current()
    {
        if (Environment.TickCount64 < Volatile.Read(ref nextCheck))
        {
            return Volatile.Read(ref current);
        }

        lock (gate)
        {
            if (Environment.TickCount64 >= nextCheck)
            {
                Reload();
                Volatile.Write(ref nextCheck, Environment.TickCount64 + (long)options.ReloadInterval.TotalMilliseconds);
            }

            return current;
        }
    }

    private void Reload()
    {
        try
        {
            var files = ReadFiles(options);
            if (files.Count == current.Files.Count && files.Zip(current.Files).All(f => f.First.AsSpan().SequenceEqual(f.Second)))
            {
                return;
            }

            var loaded = Load(options, files);
            Volatile.Write(ref current, loaded);
            LogLoaded(logger, loaded.Certificate.Subject, loaded.Certificate.SerialNumber, loaded.Certificate.NotAfter);
        }
        catch (TlsFileException e)
        {
            LogKept(logger, e.Message);
        }
    }

    private static bool IsTrustedClient(X509Certificate2Collection cas, X509Certificate? certificate, X509Chain? presented, bool required)
    {
        if (certificate is null)
        {
            return !required;
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(cas);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.ApplicationPolicy.Add(ClientAuthentication);
        if (presented is not null)
        {
            // Intermediates the client sent along with its certificate.
            foreach (var element in presented.ChainElements.Skip(1))
            {
                chain.ChainPolicy.ExtraStore.Add(element.Certificate);
            }
        }

        return chain.Build(certificate as X509Certificate2 ?? new X509Certificate2(certificate));
    }

    /// <summary>The files' bytes, in a fixed order: certificate (or PFX), key, client CA.</summary>
    private static List<byte[]> ReadFiles(ServerTlsOptions tls)
    {
        var files = new List<byte[]>();
        foreach (var (setting, path) in Paths(tls))
        {
            try
            {
                files.Add(File.ReadAllBytes(path));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new TlsFileException($"{ServerOptions.Section}:Tls:{setting}: cannot read '{path}': {e.Message}", e);
            }
        }

        return files;
    }

    private static IEnumerable<(string Setting, string Path)> Paths(ServerTlsOptions tls)
    {
        if (!string.IsNullOrEmpty(tls.PfxPath))
        {
            yield return (nameof(tls.PfxPath), tls.PfxPath);
        }
        else
        {
            yield return (nameof(tls.CertificatePath), tls.CertificatePath!);
            yield return (nameof(tls.KeyPath), tls.KeyPath!);
        }

        if (!string.IsNullOrEmpty(tls.ClientCaPath))
        {
            yield return (nameof(tls.ClientCaPath), tls.ClientCaPath);
        }
    }

    private static Loaded Load(ServerTlsOptions tls, List<byte[]> files)
    {
        X509Certificate2 leaf;
        var intermediates = new X509Certificate2Collection();
        var pfx = !string.IsNullOrEmpty(tls.PfxPath);
        try
        {
            if (pfx)
            {
                var all = X509CertificateLoader.LoadPkcs12Collection(files[0], tls.Password);
                leaf = all.FirstOrDefault(c => c.HasPrivateKey) ?? throw new CryptographicException("it holds no certificate with a private key");
                intermediates.AddRange(all.Where(c => !ReferenceEquals(c, leaf)).ToArray());
            }
            else
            {
                var certificatePem = System.Text.Encoding.UTF8.GetString(files[0]);
                var keyPem = System.Text.Encoding.UTF8.GetString(files[1]);
                leaf = string.IsNullOrEmpty(tls.Password)
                    ? X509Certificate2.CreateFromPem(certificatePem, keyPem)
                    : X509Certificate2.CreateFromEncryptedPem(certificatePem, keyPem, tls.Password);
                var chain = new X509Certificate2Collection();
                chain.ImportFromPem(certificatePem);
                intermediates.AddRange(chain.Skip(1).ToArray());
            }
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException)
        {
            var what = pfx ? $"PfxPath '{tls.PfxPath}'" : $"CertificatePath '{tls.CertificatePath}' with KeyPath '{tls.KeyPath}'";
            throw new TlsFileException($"{ServerOptions.Section}:Tls:{what} is not a certificate and its private key: {e.Message.TrimEnd('.')}.", e);
        }

        X509Certificate2Collection? cas = null;
        if (!string.IsNullOrEmpty(tls.ClientCaPath))
        {
            cas = [];
            try
            {
                cas.ImportFromPem(System.Text.Encoding.UTF8.GetString(files[^1]));
            }
            catch (CryptographicException e)
            {
                throw new TlsFileException($"{ServerOptions.Section}:Tls:ClientCaPath '{tls.ClientCaPath}' is not a PEM bundle of certificates: {e.Message.TrimEnd('.')}.", e);
            }

            if (cas.Count == 0)
            {
                throw new TlsFileException($"{ServerOptions.Section}:Tls:ClientCaPath '{tls.ClientCaPath}' holds no PEM certificate.", null);
            }
        }

        return new Loaded(files, SslStreamCertificateContext.Create(leaf, intermediates, offline: true), cas, leaf);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "TLS certificate in force: {Subject}, serial {Serial}, valid until {NotAfter:u}")]
    private static partial void LogLoaded(ILogger logger, string subject, string serial, DateTime notAfter);

    [LoggerMessage(Level = LogLevel.Warning, Message = "TLS files changed but do not load, the previous certificate stays: {Problem}")]
    private static partial void LogKept(ILogger logger, string problem);

    private sealed record Loaded(List<byte[]> Files, SslStreamCertificateContext Context, X509Certificate2Collection? ClientCas, X509Certificate2 Certificate);

    private sealed class TlsFileException(string message, Exception? inner) : Exception(message, inner);
}
