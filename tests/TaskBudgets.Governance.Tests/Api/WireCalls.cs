using System.Buffers.Binary;
using System.Net;
using System.Net.Http.Headers;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Grpc.Core;
using Microsoft.EntityFrameworkCore;
using TaskBudgets.Governance.Storage;
using TaskBudgets.Governance.Tests.Infrastructure;

namespace TaskBudgets.Governance.Tests.Api;

/// <summary>What the server said to one call, read off the wire.</summary>
public sealed record WireAnswer(StatusCode Code, Google.Rpc.Status? Status, string Message, int HttpStatus)
{
    public bool HasErrorInfo => Status?.GetDetail<Google.Rpc.ErrorInfo>() is not null;

    public override string ToString() => $"{Code} (HTTP {HttpStatus}): {Message}";
}

/// <summary>What a refusal must leave as it was: the policy, the counters and the rows written by calls.</summary>
public sealed record StateSnapshot(string PolicyVersion, long Orgs, long TierRules, long Quotas, long Models, long ApiKeys, long RevokedKeys, long QuotaConsumed, long Settlements, long AuditEvents, long TaskBudgets, long GrantNotices);

/// <summary>
/// Calls made below the generated clients: gRPC frames written by hand over HTTP/2 (as a client
/// with a bug or an attacker would send them), and HTTP/JSON bodies as text.
/// </summary>
public static class WireCalls
{
    /// <summary>A gRPC frame: the uncompressed flag, the big-endian length, the message.</summary>
    public static byte[] Frame(ReadOnlySpan<byte> message, uint? declaredLength = null, byte flag = 0)
    {
        var frame = new byte[5 + message.Length];
        frame[0] = flag;
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), declaredLength ?? (uint)message.Length);
        message.CopyTo(frame.AsSpan(5));
        return frame;
    }

    /// <summary>POSTs <paramref name="body"/> as a gRPC call to "/service/method" over HTTP/2 only, and reads the status from headers or trailers.</summary>
    public static async Task<WireAnswer> RawGrpcAsync(GovernanceApp app, string path, byte[] body, string? key = GovernanceApp.AdminKey, string? grpcEncoding = null)
    {
        using var http = new HttpClient(app.Server.CreateHandler()) { BaseAddress = app.Server.BaseAddress };
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(path, UriKind.Relative))
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new ByteArrayContent(body),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/grpc");
        request.Headers.TryAddWithoutValidation("te", "trailers");
        if (grpcEncoding is not null)
        {
            request.Headers.TryAddWithoutValidation("grpc-encoding", grpcEncoding);
        }
        if (key is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }

        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseContentRead);
        _ = await response.Content.ReadAsByteArrayAsync();
        string? Header(string name) =>
            response.Headers.TryGetValues(name, out var h) ? h.First()
            : response.TrailingHeaders.TryGetValues(name, out var t) ? t.First()
            : null;
        var code = Header("grpc-status") is { } text ? (StatusCode)int.Parse(text, System.Globalization.CultureInfo.InvariantCulture) : (StatusCode)(-1);
        var details = Header("grpc-status-details-bin") is { } bin ? Google.Rpc.Status.Parser.ParseFrom(Convert.FromBase64String(Pad(bin))) : null;
        return new WireAnswer(code, details, Uri.UnescapeDataString(Header("grpc-message") ?? string.Empty), (int)response.StatusCode);
    }

    /// <summary>A call through Grpc.Net.Client with the request as bytes (any bytes), its status and details as the client reads them.</summary>
    public static async Task<WireAnswer> GrpcBytesAsync(GovernanceApp app, string service, string method, byte[] message, string? key = GovernanceApp.AdminKey)
    {
        var bytes = Marshallers.Create<byte[]>(b => b, b => b);
        var call = new Method<byte[], byte[]>(MethodType.Unary, service, method, bytes, bytes);
        try
        {
            await app.Invoker(key).AsyncUnaryCall(call, null, new CallOptions(deadline: DateTime.UtcNow.AddSeconds(30)), message);
            return new WireAnswer(StatusCode.OK, null, string.Empty, 200);
        }
        catch (RpcException e)
        {
            return new WireAnswer(e.StatusCode, e.GetRpcStatus(), e.Status.Detail, 200);
        }
    }

    /// <summary>POSTs JSON text over HTTP/1.1 with the admin key; the status is the body's google.rpc.Status code.</summary>
    public static async Task<WireAnswer> JsonAsync(HttpClient http, string path, string json)
    {
        using var content = new StringContent(json, System.Text.Encoding.UTF8, "application/json");
        using var response = await http.PostAsync(new Uri(path, UriKind.Relative), content);
        var text = await response.Content.ReadAsStringAsync();
        if (response.IsSuccessStatusCode)
        {
            return new WireAnswer(StatusCode.OK, null, string.Empty, (int)response.StatusCode);
        }

        Google.Rpc.Status? status = null;
        try
        {
            status = new JsonParser(JsonParser.Settings.Default.WithTypeRegistry(TypeRegistry.FromFiles(Google.Rpc.ErrorDetailsReflection.Descriptor)).WithIgnoreUnknownFields(true))
                .Parse<Google.Rpc.Status>(text);
        }
        catch (InvalidProtocolBufferException)
        {
        }

        return new WireAnswer(status is null ? (StatusCode)(-1) : (StatusCode)status.Code, status, status?.Message ?? text, (int)response.StatusCode);
    }

    public static async Task<StateSnapshot> SnapshotAsync(GovernanceApp app)
    {
        await using var db = app.Db();
        return new StateSnapshot(
            (await db.Settings.AsNoTracking().FirstOrDefaultAsync(s => s.Key == SettingRow.PolicyVersion))?.Value ?? string.Empty,
            await db.Orgs.LongCountAsync(),
            await db.TierRules.LongCountAsync(),
            await db.Quotas.LongCountAsync(),
            await db.Models.LongCountAsync(),
            await db.ApiKeys.LongCountAsync(),
            await db.ApiKeys.LongCountAsync(k => k.RevokedAtMs != null),
            (await db.QuotaCounters.AsNoTracking().Select(c => c.Consumed).ToListAsync()).Sum(),
            await db.Settlements.LongCountAsync(),
            await db.AuditEvents.LongCountAsync(),
            await db.TaskBudgets.LongCountAsync(),
            await db.GrantNotices.LongCountAsync());
    }

    private static string Pad(string base64) => base64.Length % 4 == 0 ? base64 : base64 + new string('=', 4 - (base64.Length % 4));
}
