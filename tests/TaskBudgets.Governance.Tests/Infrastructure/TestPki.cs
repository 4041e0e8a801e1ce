using System.Net;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace TaskBudgets.Governance.Tests.Infrastructure;

/// <summary>
/// Certificates made for one test, never committed: a CA, server certificates for 127.0.0.1 and
/// localhost signed by it, client certificates signed by it, and self-signed ones nobody trusts.
/// </summary>
public sealed class TestPki
{
    private static readonly Oid ServerAuthentication = new("1.3.6.1.5.5.7.3.1");
    private static readonly Oid ClientAuthentication = new("1.3.6.1.5.5.7.3.2");
    private static long serials = DateTime.UtcNow.Ticks;

    public X509Certificate2 Ca { get; } = CreateCa();

    /// <summary>A server certificate for 127.0.0.1 and localhost, signed by <see cref="Ca"/>, with a serial number of its own.</summary>
    public X509Certificate2 Server() => Issue("CN=taskbudgets-test-server", ServerAuthentication, Ca, san: true);

    /// <summary>A client certificate signed by <see cref="Ca"/>.</summary>
    public X509Certificate2 Client(string name = "test-client") => Issue($"CN={name}", ClientAuthentication, Ca, san: false);

    /// <summary>A client certificate signed by nobody the server trusts.</summary>
    public static X509Certificate2 SelfSignedClient(string name = "untrusted-client") => Issue($"CN={name}", ClientAuthentication, issuer: null, san: false);

    /// <summary>Writes <paramref name="certificate"/> and its key as PEM; each file is replaced whole (a rename), as a rotation does.</summary>
    public static void WritePem(X509Certificate2 certificate, string certificatePath, string keyPath)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        using var key = certificate.GetECDsaPrivateKey() ?? throw new InvalidOperationException("no private key");
        Replace(keyPath, key.ExportPkcs8PrivateKeyPem());
        Replace(certificatePath, certificate.ExportCertificatePem());
    }

    public static void WritePfx(X509Certificate2 certificate, string path, string password) =>
        File.WriteAllBytes(path, certificate.Export(X509ContentType.Pkcs12, password));

    public static void WriteCertificatePem(X509Certificate2 certificate, string path) => Replace(path, certificate.ExportCertificatePem());

    /// <summary>A handler that trusts only <see cref="Ca"/> and presents <paramref name="clientCertificate"/> when given.</summary>
    public SocketsHttpHandler Handler(X509Certificate2? clientCertificate = null, Action<X509Certificate2>? seen = null)
    {
        var ca = Ca;
        var handler = new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.Zero };
        handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
        {
            if (certificate is null || (errors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0)
            {
                return false;
            }

            var server = certificate as X509Certificate2 ?? new X509Certificate2(certificate);
            seen?.Invoke(server);
            using var chain = new X509Chain();
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.Add(ca);
            chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            return chain.Build(server);
        };
        if (clientCertificate is not null)
        {
            handler.SslOptions.ClientCertificates = [clientCertificate];
        }

        return handler;
    }

    private static void Replace(string path, string text)
    {
        var temporary = path + ".new";
        File.WriteAllText(temporary, text);
        File.Move(temporary, path, overwrite: true);
    }

    private static X509Certificate2 CreateCa()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=TaskBudgets Test CA", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddHours(-1), DateTimeOffset.UtcNow.AddDays(1));
    }

    private static X509Certificate2 Issue(string subject, Oid usage, X509Certificate2? issuer, bool san)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([usage], false));
        if (san)
        {
            var names = new SubjectAlternativeNameBuilder();
            names.AddIpAddress(IPAddress.Loopback);
            names.AddDnsName("localhost");
            request.CertificateExtensions.Add(names.Build());
        }

        var notBefore = DateTimeOffset.UtcNow.AddHours(-1);
        var notAfter = DateTimeOffset.UtcNow.AddHours(12);
        if (issuer is null)
        {
            return request.CreateSelfSigned(notBefore, notAfter);
        }

        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(issuer, includeKeyIdentifier: true, includeIssuerAndSerial: false));
        var serial = BitConverter.GetBytes(Interlocked.Increment(ref serials));
        Array.Reverse(serial);
        serial[0] &= 0x7F;
        using var certificate = request.Create(issuer, notBefore, notAfter, serial);
        return certificate.CopyWithPrivateKey(key);
    }
}
