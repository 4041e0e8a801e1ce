using System.ComponentModel.DataAnnotations;

namespace TaskBudgets.Governance.Hosting;

/// <summary>Listening ports and message limits. Bound from the "Server" section.</summary>
public sealed class ServerOptions
{
    public const string Section = "Server";

    /// <summary>Address to listen on. Default "localhost"; containers set 0.0.0.0.</summary>
    [Required]
    public string ListenAddress { get; set; } = "localhost";

    /// <summary>gRPC (HTTP/2 only): plaintext, or TLS when <see cref="Tls"/> names a certificate. Default 8080.</summary>
    [Range(0, 65535)]
    public int GrpcPort { get; set; } = 8080;

    /// <summary>HTTP/1.1 for the HTTP/JSON API (/v1/...), /metrics, /healthz and /readyz. Default 8081.</summary>
    [Range(0, 65535)]
    public int HttpPort { get; set; } = 8081;

    /// <summary>Largest request message accepted, in bytes; larger ones get RESOURCE_EXHAUSTED. Default 64 KiB.</summary>
    [Range(1024, 16 * 1024 * 1024)]
    public int MaxReceiveMessageBytes { get; set; } = 64 * 1024;

    /// <summary>
    /// Whether the gRPC port also answers the HTTP port's routes (HTTP/JSON, /metrics, /healthz,
    /// /readyz), as it did before it was restricted. Default false: only gRPC (and gRPC health and
    /// reflection) there, anything else gets 404.
    /// </summary>
    public bool GrpcPortServesHttpRoutes { get; set; }

    /// <summary>TLS on both ports, and optional client certificates. Off unless a certificate is named.</summary>
    public ServerTlsOptions Tls { get; set; } = new();
}

/// <summary>
/// The server certificate, from PEM files (<see cref="CertificatePath"/> and <see cref="KeyPath"/>) or a
/// PKCS#12 file (<see cref="PfxPath"/>), and the CA that client certificates must chain to. Bound from
/// "Server:Tls"; the files are read again when they change, so a rotation needs no restart.
/// </summary>
public sealed class ServerTlsOptions
{
    /// <summary>PEM certificate, optionally followed by its intermediates. Needs <see cref="KeyPath"/>. Default none.</summary>
    public string? CertificatePath { get; set; }

    /// <summary>PEM private key of <see cref="CertificatePath"/> (PKCS#8, PKCS#1 or SEC1; encrypted with <see cref="Password"/> if set). Default none.</summary>
    public string? KeyPath { get; set; }

    /// <summary>PKCS#12 (.pfx/.p12) certificate and key, instead of the PEM files. Default none.</summary>
    public string? PfxPath { get; set; }

    /// <summary>Password of <see cref="PfxPath"/> or of an encrypted <see cref="KeyPath"/>. Default none.</summary>
    public string? Password { get; set; }

    /// <summary>PEM bundle of the CA certificates that client certificates must chain to. Default none (no client certificates asked for).</summary>
    public string? ClientCaPath { get; set; }

    /// <summary>Refuse a connection without a client certificate that chains to <see cref="ClientCaPath"/>. Default false: one is asked for and checked when given.</summary>
    public bool RequireClientCertificate { get; set; }

    /// <summary>
    /// Whether <see cref="RequireClientCertificate"/> also applies on the HTTP port. Default true; false
    /// lets probes and scrapers that cannot present a certificate (the kubelet's) reach /healthz,
    /// /readyz and /metrics over server-only TLS there.
    /// </summary>
    public bool RequireClientCertificateOnHttpPort { get; set; } = true;

    /// <summary>How often the files are checked for a new version, read at a handshake at most this often. Default 30 s.</summary>
    public TimeSpan ReloadInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Whether a server certificate is configured.</summary>
    public bool Enabled => !string.IsNullOrEmpty(CertificatePath) || !string.IsNullOrEmpty(PfxPath);
}
