using System.Net;
using System.Net.Sockets;

namespace TaskBudgets.Testing;

public static class FreePort
{
    /// <summary>A loopback port that was free a moment ago (a parallel start may still take it).</summary>
    public static int Next()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
