using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Grpc.AspNetCore.Server;
using Microsoft.AspNetCore.Grpc.JsonTranscoding;
using TaskBudgets.Governance.Contract;

namespace TaskBudgets.Governance.Api;

/// <summary>
/// Refuses, before the service sees them, requests whose bytes are no request at all.
/// grpc-dotnet decodes a message before any interceptor runs, and a frame it cannot read (a length
/// over 2 GiB, a cut frame) or a message its parser refuses (bad wire format, invalid UTF-8,
/// nesting too deep) leaves the handler as UNKNOWN "Exception was thrown by handler." with no
/// details. JSON transcoding ignores fields it does not know, so a misspelt field is silently
/// dropped and the call runs without it. Here each is answered as what it is: RESOURCE_EXHAUSTED
/// for a message over the limit, INVALID_ARGUMENT with an ErrorInfo and a BadRequest otherwise.
/// A message that decodes is handed to grpc-dotnet untouched (the bytes are examined, not consumed).
/// </summary>
public static class RequestGuard
{
    private const int HeaderSize = 5;
    private static readonly ConcurrentDictionary<MessageDescriptor, Dictionary<string, FieldDescriptor>> FieldsByName = new();
    private static readonly JsonFormatter StatusJson = new(JsonFormatter.Settings.Default.WithTypeRegistry(
        TypeRegistry.FromFiles(Google.Rpc.ErrorDetailsReflection.Descriptor)));

    /// <summary>An endpoint convention: guards the gRPC and the HTTP/JSON endpoints of <paramref name="services"/>.</summary>
    public static void Apply(EndpointBuilder endpoint, long maxMessageBytes, params Google.Protobuf.Reflection.ServiceDescriptor[] services)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        ArgumentNullException.ThrowIfNull(services);
        var inner = endpoint.RequestDelegate;
        if (inner is null)
        {
            return;
        }

        if (endpoint.Metadata.OfType<GrpcJsonTranscodingMetadata>().FirstOrDefault() is { } transcoding)
        {
            var input = transcoding.MethodDescriptor.InputType;
            if (transcoding.HttpRule.Body == "*")
            {
                endpoint.RequestDelegate = context => GuardJsonAsync(context, inner, input, maxMessageBytes);
            }

            return;
        }

        if (endpoint.Metadata.OfType<GrpcMethodMetadata>().FirstOrDefault() is { } grpc
            && services.FirstOrDefault(s => s.FullName == grpc.Method.ServiceName)?.FindMethodByName(grpc.Method.Name) is { } method
            && method is { IsClientStreaming: false, IsServerStreaming: false })
        {
            var parser = method.InputType.Parser;
            endpoint.RequestDelegate = context => GuardGrpcAsync(context, inner, parser, maxMessageBytes);
        }
    }

    private static async Task GuardGrpcAsync(HttpContext context, RequestDelegate inner, MessageParser parser, long limit)
    {
        // Other content types get grpc-dotnet's own answer (415).
        if (context.Request.ContentType is not { } type || !type.StartsWith("application/grpc", StringComparison.OrdinalIgnoreCase))
        {
            await inner(context);
            return;
        }

        var reader = context.Request.BodyReader;
        var read = await reader.ReadAtLeastAsync(HeaderSize, context.RequestAborted);
        var buffer = read.Buffer;
        if (buffer.Length < HeaderSize)
        {
            reader.AdvanceTo(buffer.End);
            await RefuseGrpcAsync(context, RpcErrors.Malformed("the body holds no complete gRPC message frame (5-byte header, then the message)"));
            return;
        }

        Span<byte> header = stackalloc byte[HeaderSize];
        buffer.Slice(0, HeaderSize).CopyTo(header);
        var compressed = header[0];
        long length = BinaryPrimitives.ReadUInt32BigEndian(header[1..]);
        if (length > limit)
        {
            reader.AdvanceTo(buffer.End);
            await RefuseGrpcAsync(context, RpcErrors.TooLarge(length, limit));
            return;
        }

        if (compressed != 0)
        {
            // Compressed messages (grpc-encoding) are grpc-dotnet's to decompress and check.
            reader.AdvanceTo(buffer.Start);
            await inner(context);
            return;
        }

        // One byte more than the frame: a unary call carries exactly one message, then ends.
        reader.AdvanceTo(buffer.Start);
        read = await reader.ReadAtLeastAsync((int)length + HeaderSize + 1, context.RequestAborted);
        buffer = read.Buffer;
        var problem = buffer.Length < HeaderSize + length ? $"the frame declares {length} bytes but the body ends after {buffer.Length - HeaderSize}"
            : buffer.Length > HeaderSize + length ? "a unary call carries exactly one message; more bytes follow it"
            : Undecodable(parser, buffer.Slice(HeaderSize, length));
        if (problem is not null)
        {
            reader.AdvanceTo(buffer.End);
            await RefuseGrpcAsync(context, RpcErrors.Malformed(problem));
            return;
        }

        reader.AdvanceTo(buffer.Start);
        await inner(context);
    }

    /// <summary>Why the bytes are no message of the parser's type, or null when they decode.</summary>
    private static string? Undecodable(MessageParser parser, ReadOnlySequence<byte> message)
    {
        try
        {
            parser.ParseFrom(message);
            return null;
        }
        catch (InvalidProtocolBufferException e)
        {
            return e.Message;
        }
        catch (DecoderFallbackException)
        {
            return "a string field is not valid UTF-8";
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or OverflowException)
        {
            return "the message is not valid protobuf wire format";
        }
    }

    /// <summary>A trailers-only gRPC answer: the status, its message and its details in the headers.</summary>
    private static Task RefuseGrpcAsync(HttpContext context, Google.Rpc.Status status)
    {
        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "application/grpc";
        response.Headers["grpc-status"] = status.Code.ToString(System.Globalization.CultureInfo.InvariantCulture);
        response.Headers["grpc-message"] = PercentEncode(status.Message);
        response.Headers["grpc-status-details-bin"] = Convert.ToBase64String(status.ToByteArray());
        return response.CompleteAsync();
    }

    /// <summary>grpc-message is percent-encoded outside printable ASCII (and '%' itself).</summary>
    private static string PercentEncode(string text)
    {
        var builder = new StringBuilder(text.Length);
        foreach (var b in Encoding.UTF8.GetBytes(text))
        {
            if (b is >= 0x20 and <= 0x7E && b != (byte)'%')
            {
                builder.Append((char)b);
            }
            else
            {
                builder.Append('%').Append(b.ToString("X2", System.Globalization.CultureInfo.InvariantCulture));
            }
        }

        return builder.ToString();
    }

    private static async Task GuardJsonAsync(HttpContext context, RequestDelegate inner, MessageDescriptor input, long limit)
    {
        var request = context.Request;
        if (request.ContentLength > limit)
        {
            await RefuseJsonAsync(context, StatusCodes.Status413PayloadTooLarge, RpcErrors.TooLarge(request.ContentLength.Value, limit));
            return;
        }

        // Read once (at most one byte past the limit) and handed on from memory.
        using var body = new MemoryStream();
        var chunk = ArrayPool<byte>.Shared.Rent(16 * 1024);
        try
        {
            int n;
            while (body.Length <= limit && (n = await request.Body.ReadAsync(chunk, context.RequestAborted)) > 0)
            {
                body.Write(chunk, 0, n);
            }
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            body.SetLength(limit + 1);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }

        if (body.Length > limit)
        {
            await RefuseJsonAsync(context, StatusCodes.Status413PayloadTooLarge, RpcErrors.TooLarge(request.ContentLength ?? body.Length, limit));
            return;
        }

        // The body must be a JSON object of known fields ("{}" for an empty request).
        if (body.Length == 0)
        {
            await RefuseJsonAsync(context, StatusCodes.Status400BadRequest, RpcErrors.Malformed("the body is empty: send a JSON object, {} for no fields"));
            return;
        }

        {
            string? unknown;
            string? problem = null;
            try
            {
                using var document = JsonDocument.Parse(body.GetBuffer().AsMemory(0, (int)body.Length));
                unknown = document.RootElement.ValueKind == JsonValueKind.Object ? UnknownField(document.RootElement, input, string.Empty) : null;
                problem = document.RootElement.ValueKind == JsonValueKind.Object ? null : "the body must be a JSON object";
            }
            catch (JsonException e)
            {
                unknown = null;
                problem = $"the body is not JSON (line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1})";
            }

            if (unknown is not null)
            {
                await RefuseJsonAsync(context, StatusCodes.Status400BadRequest, RpcErrors.UnknownField(unknown));
                return;
            }

            // Values of the wrong type or out of range (a Duration past 10000 years, "1e999" for an
            // int64) are transcoding's to refuse, but without details: protobuf's own JSON parser
            // names the problem here.
            if (problem is null)
            {
                try
                {
                    var parsed = JsonParser.Default.Parse(Encoding.UTF8.GetString(body.GetBuffer(), 0, (int)body.Length), input);
                    problem = OutOfRangeDuration(parsed, string.Empty);
                }
                catch (InvalidProtocolBufferException e)
                {
                    problem = e.Message;
                }
                catch (Exception e) when (e is InvalidJsonException or FormatException or OverflowException or ArgumentException or InvalidOperationException)
                {
                    problem = "a value does not fit its field: " + e.Message;
                }
            }

            if (problem is not null)
            {
                await RefuseJsonAsync(context, StatusCodes.Status400BadRequest, RpcErrors.Malformed(problem));
                return;
            }
        }

        body.Position = 0;
        request.Body = body;
        await inner(context);
    }

    /// <summary>A Duration field whose value transcoding cannot read (it must fit a TimeSpan, short of protobuf's ±10000 years): its name, and why.</summary>
    private static string? OutOfRangeDuration(IMessage message, string path)
    {
        foreach (var field in message.Descriptor.Fields.InDeclarationOrder())
        {
            if (field.FieldType != FieldType.Message || field.IsRepeated || field.Accessor.GetValue(message) is not IMessage value)
            {
                continue;
            }

            if (value is Google.Protobuf.WellKnownTypes.Duration duration)
            {
                try
                {
                    // Transcoding refuses the protobuf range's very ends too.
                    if (Math.Abs(duration.Seconds) >= Google.Protobuf.WellKnownTypes.Duration.MaxSeconds)
                    {
                        throw new OverflowException();
                    }

                    _ = duration.ToTimeSpan();
                }
                catch (Exception e) when (e is InvalidOperationException or OverflowException or ArgumentOutOfRangeException)
                {
                    return $"{path}{field.Name}: the duration must be shorter than 10000 years";
                }
            }
            else if (value.Descriptor.File.Package != "google.protobuf" && OutOfRangeDuration(value, path + field.Name + ".") is { } found)
            {
                return found;
            }
        }

        return null;
    }

    /// <summary>The first property, depth first, that names no field of <paramref name="message"/> (by proto or JSON name); null when there is none.</summary>
    private static string? UnknownField(JsonElement json, MessageDescriptor message, string path)
    {
        // Well-known types (Timestamp, Duration, Struct, wrappers...) have JSON forms of their own.
        if (message.File.Package == "google.protobuf")
        {
            return null;
        }

        var fields = FieldsByName.GetOrAdd(message, static m =>
        {
            var byName = new Dictionary<string, FieldDescriptor>(StringComparer.Ordinal);
            foreach (var f in m.Fields.InDeclarationOrder())
            {
                byName.TryAdd(f.Name, f);
                byName.TryAdd(f.JsonName, f);
            }

            return byName;
        });
        foreach (var property in json.EnumerateObject())
        {
            if (!fields.TryGetValue(property.Name, out var field))
            {
                return path + property.Name;
            }

            if (field.FieldType != FieldType.Message)
            {
                continue;
            }

            var name = path + field.Name;
            var value = property.Value;
            if (field.IsMap)
            {
                var valueField = field.MessageType.FindFieldByNumber(2);
                if (valueField.FieldType == FieldType.Message && value.ValueKind == JsonValueKind.Object)
                {
                    foreach (var entry in value.EnumerateObject())
                    {
                        if (entry.Value.ValueKind == JsonValueKind.Object && UnknownField(entry.Value, valueField.MessageType, $"{name}[{entry.Name}].") is { } found)
                        {
                            return found;
                        }
                    }
                }
            }
            else if (field.IsRepeated)
            {
                if (value.ValueKind == JsonValueKind.Array)
                {
                    var i = 0;
                    foreach (var item in value.EnumerateArray())
                    {
                        if (item.ValueKind == JsonValueKind.Object && UnknownField(item, field.MessageType, $"{name}[{i}].") is { } found)
                        {
                            return found;
                        }

                        i++;
                    }
                }
            }
            else if (value.ValueKind == JsonValueKind.Object && UnknownField(value, field.MessageType, name + ".") is { } found)
            {
                return found;
            }
        }

        return null;
    }

    /// <summary>An error as transcoding writes one: the google.rpc.Status as JSON.</summary>
    private static async Task RefuseJsonAsync(HttpContext context, int httpStatus, Google.Rpc.Status status)
    {
        context.Response.StatusCode = httpStatus;
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(StatusJson.Format(status), context.RequestAborted);
    }
}
