using System.Net;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using TaskBudgets.Governance.Tests.Infrastructure;
using TaskBudgets.V1;

namespace TaskBudgets.Governance.Tests.Api;

/// <summary>
/// The bad inputs of issue 24 that got an unclear answer or changed state: each must now get a
/// clear status with details, and leave the policy, the counters and the rows as they were.
/// </summary>
public sealed class BadInputTests : AppTests
{
    private const string Budget = "/taskbudgets.v1.BudgetService/";
    private const string AdminPath = "/taskbudgets.v1.AdminService/";

    private static GetBudgetRequest Ask() => new() { OrgId = "acme", TaskType = "support", Model = "claude-test" };

    public static TheoryData<string> BadTimes() =>
    [
        "usage start past 9999", "usage end nanos negative", "usage start before 0001",
        "audit start past 9999", "audit end nanos too big",
        "simulate since huge", "simulate since reaches before 0001", "simulate since unnormalised", "simulate start past 9999",
    ];

    [Theory]
    [MemberData(nameof(BadTimes))]
    public async Task Out_of_range_times_are_invalid_arguments_naming_the_field(string which)
    {
        var tooLate = new Timestamp { Seconds = 253_402_300_800 }; // 10000-01-01
        var tooEarly = new Timestamp { Seconds = -62_135_596_801 }; // before 0001-01-01
        var before = await WireCalls.SnapshotAsync(App);
        var (call, field) = which switch
        {
            "usage start past 9999" => (Usage(new() { OrgId = "acme", StartTime = tooLate }), "start_time"),
            "usage end nanos negative" => (Usage(new() { OrgId = "acme", EndTime = new Timestamp { Seconds = 1, Nanos = -1 } }), "end_time"),
            "usage start before 0001" => (Usage(new() { OrgId = "acme", StartTime = tooEarly }), "start_time"),
            "audit start past 9999" => (Audit(new() { StartTime = tooLate }), "start_time"),
            "audit end nanos too big" => (Audit(new() { EndTime = new Timestamp { Seconds = 1, Nanos = 1_000_000_000 } }), "end_time"),
            "simulate since huge" => (Simulate(new() { PolicyYaml = TestPolicy.Yaml, Since = new Duration { Seconds = long.MaxValue } }), "since"),
            "simulate since reaches before 0001" => (Simulate(new() { PolicyYaml = TestPolicy.Yaml, Since = new Duration { Seconds = 315_576_000_000 } }), "since"),
            "simulate since unnormalised" => (Simulate(new() { PolicyYaml = TestPolicy.Yaml, Since = new Duration { Seconds = 5, Nanos = -5 } }), "since"),
            "simulate start past 9999" => (Simulate(new() { PolicyYaml = TestPolicy.Yaml, StartTime = tooLate }), "start_time"),
            _ => throw new ArgumentOutOfRangeException(nameof(which)),
        };

        var status = await RpcAssert.FailsAsync(StatusCode.InvalidArgument, "INVALID_ARGUMENT", call);

        RpcAssert.NamesField(status, field);
        Assert.Equal(before, await WireCalls.SnapshotAsync(App));
    }

    private Func<Task> Usage(GetUsageSummaryRequest r) => () => App.Admin.GetUsageSummaryAsync(r).ResponseAsync;

    private Func<Task> Audit(ListAuditEventsRequest r) => () => App.Admin.ListAuditEventsAsync(r).ResponseAsync;

    private Func<Task> Simulate(SimulatePolicyRequest r) => () => App.Admin.SimulatePolicyAsync(r).ResponseAsync;

    public static TheoryData<string> Undecodable() =>
        ["garbage bytes", "truncated varint", "invalid utf-8 string", "deep unknown groups", "cut frame", "no frame", "two messages"];

    [Theory]
    [MemberData(nameof(Undecodable))]
    public async Task Undecodable_grpc_messages_are_invalid_arguments_with_details(string which)
    {
        var valid = Ask().ToByteArray();
        var deep = Enumerable.Repeat((byte)0x0B, 200).ToArray(); // field 1, start group, 200 deep
        var body = which switch
        {
            "garbage bytes" => WireCalls.Frame([0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x13, 0x37]),
            "truncated varint" => WireCalls.Frame([0x08, 0xFF, 0xFF]),
            "invalid utf-8 string" => WireCalls.Frame([0x0A, 0x02, 0xC3, 0x28]),
            "deep unknown groups" => WireCalls.Frame([.. deep, .. Enumerable.Repeat((byte)0x0C, 200)]),
            "cut frame" => WireCalls.Frame(valid, declaredLength: (uint)valid.Length + 10),
            "no frame" => [0x00, 0x00],
            "two messages" => [.. WireCalls.Frame(valid), .. WireCalls.Frame(valid)],
            _ => throw new ArgumentOutOfRangeException(nameof(which)),
        };
        var before = await WireCalls.SnapshotAsync(App);

        var answer = await WireCalls.RawGrpcAsync(App, Budget + "GetBudget", body);

        Assert.Equal(StatusCode.InvalidArgument, answer.Code);
        Assert.Equal("MALFORMED_REQUEST", answer.Status?.GetDetail<Google.Rpc.ErrorInfo>()?.Reason);
        RpcAssert.NamesField(answer.Status!, "request");
        Assert.Equal(before, await WireCalls.SnapshotAsync(App));
        await AssertStillServesAsync();
    }

    public static TheoryData<string, StatusCode, string> Compressed() => new()
    {
        { "not gzip", StatusCode.InvalidArgument, "MALFORMED_REQUEST" },
        { "gzip of garbage", StatusCode.InvalidArgument, "MALFORMED_REQUEST" },
        { "cut gzip", StatusCode.InvalidArgument, "MALFORMED_REQUEST" },
        { "inflates past the limit", StatusCode.ResourceExhausted, "MESSAGE_TOO_LARGE" },
    };

    [Theory]
    [MemberData(nameof(Compressed))]
    public async Task Compressed_messages_that_do_not_inflate_to_a_request_are_refused_with_details(string which, StatusCode code, string reason)
    {
        var gzip = Gzip(which switch
        {
            "gzip of garbage" => [0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x13, 0x37],
            "inflates past the limit" => new byte[1 << 20], // 1 MiB of zeros: about 1 KiB compressed
            _ => Ask().ToByteArray(),
        });
        var message = which switch
        {
            "not gzip" => Ask().ToByteArray(),
            "cut gzip" => gzip[..(gzip.Length / 2)],
            _ => gzip,
        };
        var before = await WireCalls.SnapshotAsync(App);

        var answer = await WireCalls.RawGrpcAsync(App, Budget + "GetBudget", WireCalls.Frame(message, flag: 1), grpcEncoding: "gzip");

        Assert.Equal(code, answer.Code);
        Assert.Equal(reason, answer.Status?.GetDetail<Google.Rpc.ErrorInfo>()?.Reason);
        RpcAssert.NamesField(answer.Status!, "request");
        Assert.Equal(before, await WireCalls.SnapshotAsync(App));
        await AssertStillServesAsync();
    }

    [Fact]
    public async Task A_valid_gzip_compressed_request_still_gets_its_grant()
    {
        var answer = await WireCalls.RawGrpcAsync(App, Budget + "GetBudget", WireCalls.Frame(Gzip(Ask().ToByteArray()), flag: 1), grpcEncoding: "gzip");

        Assert.Equal(StatusCode.OK, answer.Code);
    }

    private static byte[] Gzip(byte[] bytes)
    {
        using var buffer = new MemoryStream();
        using (var gzip = new System.IO.Compression.GZipStream(buffer, System.IO.Compression.CompressionLevel.Optimal))
        {
            gzip.Write(bytes);
        }

        return buffer.ToArray();
    }

    [Fact]
    public async Task Undecodable_admin_messages_are_invalid_arguments_through_the_grpc_client()
    {
        var answer = await WireCalls.GrpcBytesAsync(App, "taskbudgets.v1.AdminService", "SetQuota", [0x0A, 0x05, 0x0A, 0x02, 0xC3]);

        Assert.Equal(StatusCode.InvalidArgument, answer.Code);
        Assert.Equal("MALFORMED_REQUEST", answer.Status?.GetDetail<Google.Rpc.ErrorInfo>()?.Reason);
    }

    [Theory]
    [InlineData(uint.MaxValue)] // 4 GiB
    [InlineData(0x8000_0000u)] // just over int.MaxValue
    [InlineData(64 * 1024 + 1u)] // one byte over the default limit
    public async Task A_frame_declaring_more_than_the_limit_is_resource_exhausted_with_details(uint declared)
    {
        var before = await WireCalls.SnapshotAsync(App);

        var answer = await WireCalls.RawGrpcAsync(App, AdminPath + "CreateOrg", WireCalls.Frame([0x0A, 0x00], declaredLength: declared));

        Assert.Equal(StatusCode.ResourceExhausted, answer.Code);
        Assert.Equal("MESSAGE_TOO_LARGE", answer.Status?.GetDetail<Google.Rpc.ErrorInfo>()?.Reason);
        Assert.Equal(before, await WireCalls.SnapshotAsync(App));
        await AssertStillServesAsync();
    }

    [Fact]
    public async Task A_valid_message_in_a_hand_written_frame_still_gets_its_grant()
    {
        var answer = await WireCalls.RawGrpcAsync(App, Budget + "GetBudget", WireCalls.Frame(Ask().ToByteArray()));

        Assert.Equal(StatusCode.OK, answer.Code);
    }

    [Theory]
    [InlineData("""{"taskType": "support", "model": "claude-test", "features": {"complexty": 0.9}}""", "features.complexty")]
    [InlineData("""{"taskType": "support", "model": "claude-test", "requestID": "r-1"}""", "requestID")]
    [InlineData("""{"taskType": "support", "model": "claude-test", "features": {}, "extra": null}""", "extra")]
    public async Task Unknown_json_fields_are_refused_naming_the_field_and_reserve_nothing(string json, string field)
    {
        using var http = App.CreateClient();
        var before = await WireCalls.SnapshotAsync(App);
        var usageBefore = await App.Admin.GetUsageSummaryAsync(new GetUsageSummaryRequest { OrgId = "acme" });

        var answer = await WireCalls.JsonAsync(http, "/v1/orgs/acme/budget:get", json);

        Assert.Equal(StatusCode.InvalidArgument, answer.Code);
        Assert.Equal((int)HttpStatusCode.BadRequest, answer.HttpStatus);
        RpcAssert.NamesField(answer.Status!, field);
        Assert.Equal(before, await WireCalls.SnapshotAsync(App));
        var usageAfter = await App.Admin.GetUsageSummaryAsync(new GetUsageSummaryRequest { OrgId = "acme" });
        Assert.Equal(usageBefore.Grants, usageAfter.Grants);
        Assert.Equal(usageBefore.Reserved, usageAfter.Reserved);
    }

    [Fact]
    public async Task Known_json_fields_by_either_name_still_get_a_grant()
    {
        using var http = App.CreateClient();

        var answer = await WireCalls.JsonAsync(http, "/v1/orgs/acme/budget:get", """{"task_type": "support", "model": "claude-test", "features": {"complexity": 0.5, "estimatedInputTokens": "100"}}""");

        Assert.Equal(StatusCode.OK, answer.Code);
    }

    [Theory]
    [InlineData("trailing space")]
    [InlineData("leading space")]
    [InlineData("tab in the signature")]
    [InlineData("newline in the payload")]
    [InlineData("padding")]
    [InlineData("spare bits")]
    public async Task A_grant_id_in_any_but_its_exact_form_is_not_found_and_settles_nothing(string which)
    {
        var grant = await App.Budgets.GetBudgetAsync(Ask());
        var id = grant.GrantId;
        var dot = id.LastIndexOf('.');
        var altered = which switch
        {
            "trailing space" => id + " ",
            "leading space" => " " + id,
            "tab in the signature" => id[..(dot + 3)] + "\t" + id[(dot + 3)..],
            "newline in the payload" => id[..8] + "\n" + id[8..],
            "padding" => id + "==",
            "spare bits" => id[..^1] + SpareBitTwin(id[^1]),
            _ => throw new ArgumentOutOfRangeException(nameof(which)),
        };
        var unknown = await RpcAssert.FailsAsync(StatusCode.NotFound, "GRANT_NOT_FOUND", () => App.Budgets.ReleaseBudgetAsync(new ReleaseBudgetRequest { GrantId = "tbg1.AAAA.AAAA" }).ResponseAsync);
        var before = await WireCalls.SnapshotAsync(App);

        var report = new ReportUsageRequest { GrantId = altered, Usage = new UsageTokens { InputTokens = 10, OutputTokens = 10 }, StopReason = StopReason.EndTurn, Outcome = Outcome.Success };
        var status = await RpcAssert.FailsAsync(StatusCode.NotFound, "GRANT_NOT_FOUND", () => App.Budgets.ReportUsageAsync(report).ResponseAsync);
        var released = await RpcAssert.FailsAsync(StatusCode.NotFound, "GRANT_NOT_FOUND", () => App.Budgets.ReleaseBudgetAsync(new ReleaseBudgetRequest { GrantId = altered }).ResponseAsync);

        Assert.Equal(unknown.Message, status.Message);
        Assert.Equal(unknown.Message, released.Message);
        Assert.Equal(before, await WireCalls.SnapshotAsync(App));

        // The genuine id settles still: nothing was settled in its name.
        report.GrantId = id;
        await App.Budgets.ReportUsageAsync(report);
    }

    /// <summary>A base64url character that decodes to the same byte when the last character's spare bits are ignored.</summary>
    private static char SpareBitTwin(char last)
    {
        const string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        var value = alphabet.IndexOf(last, StringComparison.Ordinal);
        return alphabet[value ^ 1];
    }

    [Fact]
    public async Task Another_orgs_quota_id_is_answered_as_an_id_that_does_not_exist()
    {
        var acmeQuota = (await App.Admin.ListQuotasAsync(new ListQuotasRequest { OrgId = "acme" })).Quotas[0].QuotaId;
        Quota QuotaWithId(string id, string org = "small") => new() { QuotaId = id, OrgId = org, Scope = QuotaScope.Project, Subject = "p1", Metric = QuotaMetric.Requests, Window = QuotaWindow.Hour, Limit = 5 };

        // An id named without an org, as ids could be before they had to name theirs.
        const string AcmeLegacy = "acme-legacy-requests";
        await App.Admin.SetQuotaAsync(new SetQuotaRequest { Quota = QuotaWithId(AcmeLegacy, "acme") });
        var (secret, _) = await App.CreateKeyAsync(ApiKeyRole.OrgAdmin, "small");
        var orgAdmin = App.AdminFor(secret);
        var before = await WireCalls.SnapshotAsync(App);
        async Task<Google.Rpc.Status> SetAsync(StatusCode code, string reason, string id, string etag = "") =>
            await RpcAssert.FailsAsync(code, reason, () => orgAdmin.SetQuotaAsync(new SetQuotaRequest { Quota = QuotaWithId(id), Etag = etag }).ResponseAsync);
        string Masked(Google.Rpc.Status status, string id) => status.Message.Replace(id, "<id>", StringComparison.Ordinal);

        foreach (var (foreignId, absentId) in new[] { (acmeQuota, "acme:requests:no-such-window"), (AcmeLegacy, "no-such-quota") })
        {
            // An id naming another org is refused by its form alone. Otherwise, with an etag: the
            // etag of a quota that is not there; without: a new id must name the caller's org.
            var namesOrg = foreignId.Contains(':', StringComparison.Ordinal);
            var (etagCode, etagReason) = namesOrg ? (StatusCode.InvalidArgument, "INVALID_ARGUMENT") : (StatusCode.Aborted, "ETAG_MISMATCH");
            Assert.Equal(Masked(await SetAsync(etagCode, etagReason, absentId, "\"x\""), absentId), Masked(await SetAsync(etagCode, etagReason, foreignId, "\"x\""), foreignId));

            var reason = namesOrg ? "INVALID_ARGUMENT" : "QUOTA_ID_OUTSIDE_ORG";
            var absent = await SetAsync(StatusCode.InvalidArgument, reason, absentId);
            var foreign = await SetAsync(StatusCode.InvalidArgument, reason, foreignId);
            RpcAssert.NamesField(foreign, "quota.quota_id");
            Assert.Equal(Masked(absent, absentId), Masked(foreign, foreignId));
            Assert.DoesNotContain("taken", foreign.Message, StringComparison.OrdinalIgnoreCase);

            var get = await RpcAssert.FailsAsync(StatusCode.NotFound, "QUOTA_NOT_FOUND", () => orgAdmin.GetQuotaAsync(new GetQuotaRequest { OrgId = "small", QuotaId = foreignId }).ResponseAsync);
            var delete = await RpcAssert.FailsAsync(StatusCode.NotFound, "QUOTA_NOT_FOUND", () => orgAdmin.DeleteQuotaAsync(new DeleteQuotaRequest { OrgId = "small", QuotaId = foreignId }).ResponseAsync);
            Assert.Equal($"Org 'small' has no quota '{foreignId}'.", get.Message);
            Assert.Equal(get.Message, delete.Message);
        }

        Assert.Equal(before, await WireCalls.SnapshotAsync(App));

        // The org's own ids still work, and an admin, who sees every org, is told the id is taken.
        var created = await orgAdmin.SetQuotaAsync(new SetQuotaRequest { Quota = QuotaWithId("small:p1-hourly") });
        Assert.True(created.Created);
        await RpcAssert.FailsAsync(StatusCode.AlreadyExists, "QUOTA_ID_TAKEN", () => App.Admin.SetQuotaAsync(new SetQuotaRequest { Quota = QuotaWithId(AcmeLegacy) }).ResponseAsync);
    }

    [Fact]
    public async Task A_quota_id_that_names_another_org_is_refused_for_everyone()
    {
        var status = await RpcAssert.FailsAsync(StatusCode.InvalidArgument, "INVALID_ARGUMENT", () => App.Admin.SetQuotaAsync(new SetQuotaRequest
        {
            Quota = new Quota { QuotaId = "acme:borrowed", OrgId = "small", Metric = QuotaMetric.Requests, Window = QuotaWindow.Hour, Limit = 5 },
        }).ResponseAsync);

        RpcAssert.NamesField(status, "quota.quota_id");
    }

    [Theory]
    [InlineData("acme")]
    [InlineData("'quoted'")]
    [InlineData("--- 42")]
    public async Task A_policy_document_that_is_one_value_is_invalid_and_the_server_lives(string yaml)
    {
        // Found by InputFuzzTests: a scalar document recursed through PolicyDocument.Parse until the stack overflowed.
        var status = await RpcAssert.FailsAsync(StatusCode.InvalidArgument, "INVALID_ARGUMENT", () => App.Admin.SimulatePolicyAsync(new SimulatePolicyRequest { PolicyYaml = yaml }).ResponseAsync);

        RpcAssert.NamesField(status, "policy_yaml");
        await AssertStillServesAsync();
    }

    private async Task AssertStillServesAsync()
    {
        var health = new Grpc.Health.V1.Health.HealthClient(App.Channel);
        var serving = await health.CheckAsync(new Grpc.Health.V1.HealthCheckRequest { Service = BudgetService.Descriptor.FullName });
        Assert.Equal(Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus.Serving, serving.Status);
        Assert.Equal(Decision.Granted, (await App.Budgets.GetBudgetAsync(Ask())).Decision);
    }
}
