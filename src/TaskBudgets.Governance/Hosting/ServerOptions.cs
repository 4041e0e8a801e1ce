using System.ComponentModel.DataAnnotations;

namespace TaskBudgets.Governance.Hosting;

/// <summary>Listening ports and message limits. Bound from the "Server" section.</summary>
public sealed class ServerOptions
{
    public const string Section = "Server";

    /// <summary>Address to listen on. Default "localhost"; containers set 0.0.0.0.</summary>
    [Required]
    public string ListenAddress { get; set; } = "localhost";

    /// <summary>Plaintext gRPC (HTTP/2 only). Default 8080.</summary>
    [Range(0, 65535)]
    public int GrpcPort { get; set; } = 8080;

    /// <summary>HTTP/1.1 for the HTTP/JSON API (/v1/...), /metrics, /healthz and /readyz. Default 8081.</summary>
    [Range(0, 65535)]
    public int HttpPort { get; set; } = 8081;

    /// <summary>Largest request message accepted, in bytes; larger ones get RESOURCE_EXHAUSTED. Default 64 KiB.</summary>
    [Range(1024, 16 * 1024 * 1024)]
    public int MaxReceiveMessageBytes { get; set; } = 64 * 1024;
}
