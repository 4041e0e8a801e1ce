using System.Collections;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using CsCheck;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Grpc.Core;
using TaskBudgets.Governance.Tests.Infrastructure;
using TaskBudgets.V1;

namespace TaskBudgets.Governance.Tests.Api;

/// <summary>
/// Seeded fuzzing of every request message of both services, over gRPC (through the client and
/// as hand-written frames, mutated) and over HTTP/JSON (mutated): no answer may be UNKNOWN or
/// INTERNAL, every refusal carries an ErrorInfo and changes nothing, and the server serves after.
/// The seed is fixed (TB_FUZZ_SEED overrides it, TB_FUZZ_SECONDS the time spent); a failure
/// prints the seed and the case to replay it.
/// </summary>
public sealed class InputFuzzTests : AppTests
{
    private const ulong DefaultSeed = 24;
    private const int MaxCases = 4000;
    private const int MaxDepth = 4;

    private static readonly string[] KnownIds = ["acme", "small", "capped", "soft", "standard", "support", "agent", "claude-test", "gpt-test", "gemini-test", "*", "p1", "tbg1.AAAA.AAAA"];

    private static readonly Gen<string> Strings = Gen.Frequency(
        (4, Gen.OneOf(KnownIds)),
        (3, Gen.String[Gen.Char["abcdefghijklmnopqrstuvwxyz0123456789._:-"], 0, 24]),
        (1, Gen.OneOf("", " ", "\t", "acme ", "\n", "ü", "日本語", "😀", "\u0000", "a/b", "%00", "\uFFFF", "tbg1.", "..")),
        (1, Gen.String),
        (1, Gen.Int[100, 5000].Select(n => new string('x', n))),
        (1, Gen.Int[1, 40].Select(n => string.Concat(Enumerable.Repeat("é😀", n)))));

    private static readonly Gen<long> Longs = Gen.Frequency(
        (3, Gen.OneOf(0L, 1L, -1L, long.MaxValue, long.MinValue, 100_000_000L, 100_000_001L, 253_402_300_800L, -62_135_596_801L, 315_576_000_000L)),
        (3, Gen.Long[-1000, 100_000]),
        (1, Gen.Long));

    private static readonly Gen<int> Ints = Gen.Frequency(
        (3, Gen.OneOf(0, 1, -1, int.MaxValue, int.MinValue, 999_999_999, 1_000_000_000, -1_000_000_000, 100, 101)),
        (3, Gen.Int[-100, 5000]),
        (1, Gen.Int));

    private static readonly Gen<double> Doubles = Gen.Frequency(
        (3, Gen.OneOf(0.0, 0.5, 1.0, -0.0, -1.0, 1.0000001, double.NaN, double.PositiveInfinity, double.NegativeInfinity, double.Epsilon, double.MaxValue)),
        (2, Gen.Double[-2, 2]),
        (1, Gen.Double));

    private static readonly Gen<byte[]> Bytes = Gen.Byte.Array[0, 64];

    private static readonly MethodDescriptor[] Methods = [.. BudgetService.Descriptor.Methods, .. AdminService.Descriptor.Methods];

    private static readonly Dictionary<string, Func<IMessage, string>> JsonPaths = new()
    {
        // TestServer's client cannot send a path holding NUL (Kestrel answers it 400 itself).
        ["GetBudget"] = m => $"/v1/orgs/{Uri.EscapeDataString(((GetBudgetRequest)m).OrgId is { Length: > 0 } org && !org.Contains('\0', StringComparison.Ordinal) ? org : "acme")}/budget:get",
        ["ReportUsage"] = _ => "/v1/usage:report",
        ["ReleaseBudget"] = _ => "/v1/grants:release",
    };

    [Fact]
    public async Task Generated_requests_get_clear_answers_and_refusals_change_nothing()
    {
        var seed = ulong.TryParse(Environment.GetEnvironmentVariable("TB_FUZZ_SEED"), NumberStyles.None, CultureInfo.InvariantCulture, out var s) ? s : DefaultSeed;
        var budget = TimeSpan.FromSeconds(int.TryParse(Environment.GetEnvironmentVariable("TB_FUZZ_SECONDS"), NumberStyles.None, CultureInfo.InvariantCulture, out var t) ? t : 40);
        var pcg = new PCG(1, seed);
        using var http = App.CreateClient();
        var failures = new List<string>();
        var answered = new Dictionary<string, int>(StringComparer.Ordinal);
        var clock = Stopwatch.StartNew();
        var state = await WireCalls.SnapshotAsync(App);
        var cases = 0;
        for (; cases < MaxCases && clock.Elapsed < budget && failures.Count < 10; cases++)
        {
            var method = Methods[Gen.Int[0, Methods.Length - 1].Generate(pcg, null, out _)];
            var message = Message(pcg, method.InputType, 0);
            var route = Gen.Int[0, 9].Generate(pcg, null, out _);
            string how;
            WireAnswer answer;
            if (route < 5)
            {
                how = "grpc";
                answer = await WireCalls.GrpcBytesAsync(App, method.Service.FullName, method.Name, message.ToByteArray());
            }
            else if (route < 7 || !JsonPaths.TryGetValue(method.Name, out var pathOf))
            {
                var frame = MutatedFrame(pcg, message.ToByteArray());
                how = "frame " + Convert.ToHexString(frame.AsSpan(0, Math.Min(frame.Length, 64)));
                answer = await WireCalls.RawGrpcAsync(App, $"/{method.Service.FullName}/{method.Name}", frame);
            }
            else
            {
                var json = MutatedJson(pcg, message);
                how = "json " + json[..Math.Min(json.Length, 300)];
                answer = await WireCalls.JsonAsync(http, pathOf(message), json);
            }

            var key = $"{method.Name} {answer.Code}";
            answered[key] = answered.GetValueOrDefault(key) + 1;
            var after = await WireCalls.SnapshotAsync(App);
            var problem = answer.Code is StatusCode.Unknown or StatusCode.Internal || (int)answer.Code < 0 ? "an unclear status"
                : answer.Code != StatusCode.OK && !answer.HasErrorInfo ? "a refusal without an ErrorInfo"
                : answer.HttpStatus >= 500 ? "an HTTP 5xx"
                : answer.Code != StatusCode.OK && after != state ? $"a refusal that changed state: {state} -> {after}"
                : null;
            if (problem is not null)
            {
                failures.Add($"case {cases} (seed {seed}): {method.Name} via {how}: {problem}: {answer}\n  request: {Shown(message)}");
            }

            state = after;
        }

        await AssertServingAsync();
        Assert.True(failures.Count == 0, $"{failures.Count} bad answers in {cases} cases:\n{string.Join("\n", failures)}");

        // The generation reaches past the checks: some calls succeed, and every service is called.
        var succeeded = answered.Keys.Where(k => k.EndsWith(" OK", StringComparison.Ordinal)).ToList();
        Assert.True(succeeded.Count >= 10, "too few RPCs ever succeeded: " + string.Join(", ", succeeded));
        Assert.True(cases >= 200, $"only {cases} cases ran");
        Assert.Equal(Methods.Length, answered.Keys.Select(k => k.Split(' ')[0]).Distinct().Count());
    }

    private async Task AssertServingAsync()
    {
        var health = new Grpc.Health.V1.Health.HealthClient(App.Channel);
        foreach (var service in new[] { string.Empty, BudgetService.Descriptor.FullName })
        {
            var answer = await health.CheckAsync(new Grpc.Health.V1.HealthCheckRequest { Service = service });
            Assert.Equal(Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus.Serving, answer.Status);
        }

        await App.Admin.ListTiersAsync(new ListTiersRequest());
    }

    private static string Shown(IMessage message)
    {
        var text = message.ToString() ?? string.Empty;
        return text.Length > 400 ? text[..400] + "..." : text;
    }

    /// <summary>A message of <paramref name="type"/> with each field set or not, to a value drawn for its type.</summary>
    private static IMessage Message(PCG pcg, MessageDescriptor type, int depth)
    {
        var message = type.Parser.ParseFrom(ByteString.Empty);
        foreach (var field in type.Fields.InDeclarationOrder())
        {
            if (Gen.Int[0, 9].Generate(pcg, null, out _) < 4)
            {
                continue;
            }

            if (field.IsMap)
            {
                var map = (IDictionary)field.Accessor.GetValue(message);
                var keyField = field.MessageType.FindFieldByNumber(1);
                var valueField = field.MessageType.FindFieldByNumber(2);
                for (var i = Gen.Int[0, 3].Generate(pcg, null, out _); i > 0; i--)
                {
                    if (Value(pcg, keyField, depth) is { } k && Value(pcg, valueField, depth) is { } v)
                    {
                        map[k] = v;
                    }
                }
            }
            else if (field.IsRepeated)
            {
                var list = (IList)field.Accessor.GetValue(message);
                for (var i = Gen.Frequency((4, Gen.Int[0, 3]), (1, Gen.Int[0, 60])).Generate(pcg, null, out _); i > 0; i--)
                {
                    if (Value(pcg, field, depth) is { } v)
                    {
                        list.Add(v);
                    }
                }
            }
            else if (Value(pcg, field, depth) is { } value)
            {
                field.Accessor.SetValue(message, value);
            }
        }

        return message;
    }

    private static object? Value(PCG pcg, FieldDescriptor field, int depth) => field.FieldType switch
    {
        FieldType.String => Strings.Generate(pcg, null, out _),
        FieldType.Bytes => ByteString.CopyFrom(Bytes.Generate(pcg, null, out _)),
        FieldType.Bool => Gen.Bool.Generate(pcg, null, out _),
        FieldType.Double => Doubles.Generate(pcg, null, out _),
        FieldType.Float => (float)Doubles.Generate(pcg, null, out _),
        FieldType.Int64 or FieldType.SInt64 or FieldType.SFixed64 => Longs.Generate(pcg, null, out _),
        FieldType.UInt64 or FieldType.Fixed64 => unchecked((ulong)Longs.Generate(pcg, null, out _)),
        FieldType.Int32 or FieldType.SInt32 or FieldType.SFixed32 => Ints.Generate(pcg, null, out _),
        FieldType.UInt32 or FieldType.Fixed32 => unchecked((uint)Ints.Generate(pcg, null, out _)),
        FieldType.Enum => Enum.ToObject(field.EnumType.ClrType, Gen.Frequency(
            (4, Gen.OneOf(field.EnumType.Values.Select(v => v.Number).ToArray())),
            (1, Ints)).Generate(pcg, null, out _)),
        FieldType.Message when depth < MaxDepth => Message(pcg, field.MessageType, depth + 1),
        _ => null,
    };

    /// <summary>The message framed by hand, then perhaps cut, flipped, padded or given a lying length.</summary>
    private static byte[] MutatedFrame(PCG pcg, byte[] message)
    {
        var bytes = message.ToList();
        switch (Gen.Int[0, 6].Generate(pcg, null, out _))
        {
            case 0 when bytes.Count > 0:
                bytes.RemoveRange(Gen.Int[0, bytes.Count - 1].Generate(pcg, null, out _), 1);
                break;
            case 1 when bytes.Count > 0:
                var at = Gen.Int[0, bytes.Count - 1].Generate(pcg, null, out _);
                bytes[at] = (byte)(bytes[at] ^ Gen.Byte[1, 255].Generate(pcg, null, out _));
                break;
            case 2:
                bytes.InsertRange(Gen.Int[0, bytes.Count].Generate(pcg, null, out _), Bytes.Generate(pcg, null, out _));
                break;
            case 3:
                return WireCalls.Frame([.. bytes], declaredLength: unchecked((uint)Longs.Generate(pcg, null, out _)));
            case 4 when bytes.Count > 0:
                return WireCalls.Frame([.. bytes])[..Gen.Int[0, bytes.Count + 4].Generate(pcg, null, out _)];
            case 5:
                return [.. WireCalls.Frame([.. bytes]), .. Bytes.Generate(pcg, null, out _)];
        }

        return WireCalls.Frame([.. bytes]);
    }

    /// <summary>The message as JSON (as protobuf writes it, or by hand where it cannot), then perhaps given an unknown field or broken.</summary>
    private static string MutatedJson(PCG pcg, IMessage message)
    {
        string json;
        try
        {
            json = JsonFormatter.Default.Format(message);
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException)
        {
            json = """{"orgId": "acme", "features": {"complexity": "NaN", "attempt": 99999999999}, "latency": "-5s"}""";
        }

        return Gen.Int[0, 7].Generate(pcg, null, out _) switch
        {
            0 => json.Length > 1 ? json.Insert(1, $"\"{Strings.Generate(pcg, null, out _).Replace("\"", "", StringComparison.Ordinal).Replace("\\", "", StringComparison.Ordinal)}x\": 1, ") : json,
            1 => json[..Gen.Int[0, json.Length].Generate(pcg, null, out _)],
            2 => json.Replace("\"", "'", StringComparison.Ordinal),
            3 => "[" + json + "]",
            4 => Encoding.Latin1.GetString(Bytes.Generate(pcg, null, out _)),
            _ => json,
        };
    }
}
