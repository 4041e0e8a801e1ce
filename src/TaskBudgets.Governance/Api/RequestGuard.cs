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
/// Over gRPC only the frame is checked here, and a good one is handed to grpc-dotnet untouched (the
/// bytes are examined, not consumed): the message is decoded once, by grpc-dotnet, and refused as
/// undecodable by <see cref="CheckedDecoding"/>.
/// </summary>
public static class RequestGuard
{
    private const int HeaderSize = 5;
    private static readonly ConcurrentDictionary<MessageDescriptor, Dictionary<string, FieldDescriptor>> FieldsByName = new();
    // As deep as System.Text.Json (and so transcoding) reads by default.
    private static readonly JsonParser StrictJson = new(new JsonParser.Settings(64));
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
            endpoint.RequestDelegate = context => GuardGrpc(context, inner, maxMessageBytes);
        }
    }

    private static Task GuardGrpc(HttpContext context, RequestDelegate inner, long limit)
    {
        // Other content types get grpc-dotnet's own answer (415).
        if (context.Request.ContentType is not { } type || !type.StartsWith("application/grpc", StringComparison.OrdinalIgnoreCase))
        {
            return inner(context);
        }

        // Most unary calls have arrived whole by the time they are routed: checked without a
        // state machine, then handed on.
        var reader = context.Request.BodyReader;
        if (reader.TryRead(out var read))
        {
            if (read.IsCompleted)
            {
                var problem = FrameProblem(read.Buffer, limit);
                reader.AdvanceTo(problem is null ? read.Buffer.Start : read.Buffer.End);
                return problem is null ? inner(context) : RefuseGrpcAsync(context, problem);
            }

            reader.AdvanceTo(read.Buffer.Start);
        }

        return GuardGrpcAsync(context, inner, limit);
    }

    private static async Task GuardGrpcAsync(HttpContext context, RequestDelegate inner, long limit)
    {
        var reader = context.Request.BodyReader;
        var read = await reader.ReadAtLeastAsync(HeaderSize, context.RequestAborted);
        var buffer = read.Buffer;
        if (buffer.Length >= HeaderSize && HeaderProblem(buffer, limit, out var length) is null && !read.IsCompleted)
        {
            // One byte more than the frame: a unary call carries exactly one message, then ends.
            reader.AdvanceTo(buffer.Start);
            read = await reader.ReadAtLeastAsync((int)length + HeaderSize + 1, context.RequestAborted);
            buffer = read.Buffer;
        }

        var problem = FrameProblem(buffer, limit);
        reader.AdvanceTo(problem is null ? buffer.Start : buffer.End);
        if (problem is null)
        {
            await inner(context);
        }
        else
        {
            await RefuseGrpcAsync(context, problem);
        }
    }

    /// <summary>
    /// Why <paramref name="body"/> (the whole body, or as much as holds one frame and a byte more)
    /// is not one gRPC message frame within the limit; null when it is. The message itself is
    /// decoded once, by grpc-dotnet, through <see cref="CheckedDecoding"/>.
    /// </summary>
    private static Google.Rpc.Status? FrameProblem(ReadOnlySequence<byte> body, long limit)
    {
        if (body.Length < HeaderSize)
        {
            return RpcErrors.Malformed("the body holds no complete gRPC message frame (5-byte header, then the message)");
        }

        if (HeaderProblem(body, limit, out var length) is { } problem)
        {
            return problem;
        }

        // Compressed messages (grpc-encoding) are grpc-dotnet's to decompress and check.
        var compressed = body.FirstSpan[0] != 0;
        return compressed ? null
            : body.Length < HeaderSize + length ? RpcErrors.Malformed($"the frame declares {length} bytes but the body ends after {body.Length - HeaderSize}")
            : body.Length > HeaderSize + length ? RpcErrors.Malformed("a unary call carries exactly one message; more bytes follow it")
            : null;
    }

    /// <summary>The declared length of the first frame, and a refusal when it is over the limit.</summary>
    private static Google.Rpc.Status? HeaderProblem(ReadOnlySequence<byte> body, long limit, out long length)
    {
        Span<byte> header = stackalloc byte[HeaderSize];
        body.Slice(0, HeaderSize).CopyTo(header);
        length = BinaryPrimitives.ReadUInt32BigEndian(header[1..]);
        return length > limit ? RpcErrors.TooLarge(length, limit) : null;
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

        if (JsonProblem(body.GetBuffer().AsMemory(0, (int)body.Length), input) is { } refusal)
        {
            await RefuseJsonAsync(context, StatusCodes.Status400BadRequest, refusal);
            return;
        }

        body.Position = 0;
        request.Body = body;
        await inner(context);
    }

    /// <summary>
    /// Why <paramref name="body"/> is no JSON request of type <paramref name="input"/>, or null. A
    /// body protobuf's JSON parser reads, strictly (unknown fields refused), is decoded once here;
    /// only a refused one is read again to name what is wrong as exactly as can be.
    /// </summary>
    private static Google.Rpc.Status? JsonProblem(ReadOnlyMemory<byte> body, MessageDescriptor input)
    {
        string? problem;
        try
        {
            // Values of the wrong type or out of range (a Duration past 10000 years, "1e999" for an
            // int64) are transcoding's to refuse, but without details: protobuf's own JSON parser
            // names the problem here.
            var parsed = StrictJson.Parse(Encoding.UTF8.GetString(body.Span), input);
            problem = OutOfRangeDuration(parsed, string.Empty);
            if (problem is null && System.Text.Unicode.Utf8.IsValid(body.Span))
            {
                return null;
            }
        }
        catch (InvalidProtocolBufferException e)
        {
            problem = e.Message;
        }
        catch (Exception e) when (e is InvalidJsonException or FormatException or OverflowException or ArgumentException or InvalidOperationException)
        {
            problem = "a value does not fit its field: " + e.Message;
        }

        // The body must be a JSON object of known fields ("{}" for an empty request).
        try
        {
            using var document = JsonDocument.Parse(body);
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                return RpcErrors.Malformed("the body must be a JSON object");
            }

            if (UnknownField(document.RootElement, input, string.Empty) is { } unknown)
            {
                return RpcErrors.UnknownField(unknown);
            }
        }
        catch (JsonException e)
        {
            return RpcErrors.Malformed($"the body is not JSON (line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1})");
        }

        return RpcErrors.Malformed(problem ?? "the body is not valid JSON for this request");
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
