using System.Text.Json;
using TaskBudgets.Cli;
using TaskBudgets.Governance.Budgeting;
using TaskBudgets.Governance.Tests.Infrastructure;

namespace TaskBudgets.Governance.Tests.Cli;

/// <summary>The `taskbudgets` CLI (its entry method, in process) against a real server process.</summary>
public sealed class CliTests(CliServer server) : IClassFixture<CliServer>, IDisposable
{
    private readonly List<string> files = [];

    private const string Policy = """
        models:
          - name: claude-cli
            family: anthropic
            input_usd_per_mtok: 3
            output_usd_per_mtok: 15
        tiers:
          - name: cli-tier
            rules:
              - task_type: "*"
                min_reasoning_tokens: 0
                default_reasoning_tokens: 1024
                max_reasoning_tokens: 4096
                answer_tokens: 1024
                max_output_tokens: 8192
                effort: low
        orgs:
          - id: cli-org
            display_name: CLI org
            tier: cli-tier
            projects: [web]
            quotas:
              - metric: requests
                window: minute
                limit: 10
        """;

    private sealed record Run(int Exit, string Out, string Error)
    {
        public JsonElement Json => JsonDocument.Parse(Out).RootElement;
    }

    private Task<Run> CliAsync(params string[] args) => CliWithAsync(new Dictionary<string, string?>(), ["--address", server.Address, "--key", CliServer.AdminKey, .. args]);

    private static async Task<Run> CliWithAsync(Dictionary<string, string?> env, string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var exit = await CliApp.RunAsync(args, stdout, stderr, name => env.GetValueOrDefault(name), CancellationToken.None);
        return new Run(exit, stdout.ToString(), stderr.ToString());
    }

    public void Dispose()
    {
        foreach (var file in files)
        {
            File.Delete(file);
        }
    }

    private string WriteFile(string text)
    {
        var path = Path.Combine(Path.GetTempPath(), "tb-cli-" + Guid.NewGuid().ToString("N")[..8] + ".yaml");
        File.WriteAllText(path, text);
        files.Add(path);
        return path;
    }

    [Fact]
    public async Task Apply_shows_the_diff_dry_run_changes_nothing_applying_twice_changes_nothing_the_second_time()
    {
        var file = WriteFile(Policy);

        var dry = await CliAsync("apply", "-f", file, "--dry-run");
        var orgsAfterDryRun = await CliAsync("orgs", "list", "-o", "json");
        var applied = await CliAsync("apply", "-f", file);
        var again = await CliAsync("apply", "-f", file);
        File.WriteAllText(file, Policy.Replace("limit: 10", "limit: 20", StringComparison.Ordinal).Replace("display_name: CLI org", "display_name: CLI org renamed", StringComparison.Ordinal));
        var changed = await CliAsync("apply", "-f", file, "-o", "json");
        var org = await CliAsync("orgs", "get", "cli-org", "-o", "json");

        Assert.Equal(0, dry.Exit);
        Assert.Contains("+ model claude-cli", dry.Out, StringComparison.Ordinal);
        Assert.Contains("+ tier cli-tier", dry.Out, StringComparison.Ordinal);
        Assert.Contains("+ org cli-org", dry.Out, StringComparison.Ordinal);
        Assert.Contains("+ quota cli-org:requests:minute", dry.Out, StringComparison.Ordinal);
        Assert.Contains("dry run", dry.Out, StringComparison.Ordinal);
        Assert.DoesNotContain("cli-org", orgsAfterDryRun.Out, StringComparison.Ordinal);
        Assert.Equal(0, applied.Exit);
        Assert.Contains("Applied 4 changes.", applied.Out, StringComparison.Ordinal);
        Assert.Equal(0, again.Exit);
        Assert.Contains("No changes", again.Out, StringComparison.Ordinal);
        Assert.Equal(0, changed.Exit);
        var changes = changed.Json.GetProperty("changes").EnumerateArray().Select(c => $"{c.GetProperty("action").GetString()} {c.GetProperty("kind").GetString()} {c.GetProperty("name").GetString()}: {c.GetProperty("detail").GetString()}").ToList();
        Assert.Equal(["~ org cli-org: display_name: CLI org -> CLI org renamed", "~ quota cli-org:requests:minute: limit: 10 -> 20"], changes);
        Assert.Equal("CLI org renamed", org.Json.GetProperty("org").GetProperty("display_name").GetString());
        Assert.Equal("web", org.Json.GetProperty("org").GetProperty("projects")[0].GetString());
    }

    [Fact]
    public async Task Apply_refuses_a_bad_policy_file_naming_the_field_and_changes_nothing()
    {
        var file = WriteFile(Policy.Replace("max_reasoning_tokens: 4096", "max_reasoning_tokens: 4096\n        surprise: 1", StringComparison.Ordinal).Replace("tier: cli-tier", "tier: cli-bad", StringComparison.Ordinal));

        var run = await CliAsync("apply", "-f", file);
        var minAboveMax = await CliAsync("apply", "-f", WriteFile(Policy.Replace("min_reasoning_tokens: 0", "min_reasoning_tokens: 9000", StringComparison.Ordinal).Replace("cli-org", "cli-org-2", StringComparison.Ordinal)));
        var orgs = await CliAsync("orgs", "list");

        Assert.Equal(1, run.Exit);
        Assert.Contains("surprise", run.Error, StringComparison.Ordinal);
        Assert.Equal(1, minAboveMax.Exit);
        Assert.Contains("tiers[0].rules[0].min_reasoning_tokens", minAboveMax.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("cli-org-2", orgs.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Orgs_are_managed_with_readable_tables_json_and_reliable_exit_codes()
    {
        var created = await CliAsync("orgs", "create", "cli-crud", "--tier", "standard", "--display-name", "Crud Inc", "--project", "a", "--project", "b");
        var listed = await CliAsync("orgs", "list");
        var json = await CliAsync("orgs", "get", "cli-crud", "-o", "json");
        var etag = json.Json.GetProperty("org").GetProperty("etag").GetString()!;
        var updated = await CliAsync("orgs", "update", "cli-crud", "--display-name", "Crud Ltd", "--etag", etag);
        var stale = await CliAsync("orgs", "update", "cli-crud", "--display-name", "Crud Again", "--etag", etag);
        var exists = await CliAsync("orgs", "create", "cli-crud", "--tier", "standard");
        var tierInUse = await CliAsync("tiers", "delete", "standard");
        var deleted = await CliAsync("orgs", "delete", "cli-crud");
        var missing = await CliAsync("orgs", "get", "cli-crud");
        var invalid = await CliAsync("orgs", "create", "bad org", "--tier", "standard");
        var usage = await CliAsync("orgs", "frobnicate");

        Assert.Equal(0, created.Exit);
        Assert.Matches(@"ORG\s+DISPLAY NAME\s+TIER\s+PROJECTS", listed.Out);
        Assert.Matches(@"cli-crud\s+Crud Inc\s+standard\s+a,b", listed.Out);
        Assert.Equal(0, updated.Exit);
        Assert.Contains("Crud Ltd", updated.Out, StringComparison.Ordinal);
        Assert.Equal(4, stale.Exit);
        Assert.Contains("ETAG_MISMATCH", stale.Error, StringComparison.Ordinal);
        Assert.Equal(4, exists.Exit);
        Assert.Equal(4, tierInUse.Exit);
        Assert.Contains("TIER_IN_USE", tierInUse.Error, StringComparison.Ordinal);
        Assert.Equal(0, deleted.Exit);
        Assert.Equal(2, missing.Exit);
        Assert.Equal(1, invalid.Exit);
        Assert.Contains("org.org_id", invalid.Error, StringComparison.Ordinal);
        Assert.Equal(1, usage.Exit);
    }

    [Fact]
    public async Task Keys_quotas_models_usage_simulate_budget_and_audit_work_end_to_end()
    {
        var key = await CliAsync("keys", "create", "--role", "caller", "--org", "demo", "-o", "json");
        var secret = key.Json.GetProperty("secret").GetString()!;
        var keyId = key.Json.GetProperty("api_key").GetProperty("key_id").GetString()!;
        var keys = await CliAsync("keys", "list", "--org", "demo");
        var quota = await CliAsync("quotas", "set", "--org", "demo", "--scope", "principal", "--subject", "ann", "--metric", "requests", "--window", "hour", "--limit", "7");
        var quotas = await CliAsync("quotas", "list", "--org", "demo");
        var model = await CliAsync("models", "set", "cli-model", "--family", "openai", "--input-usd-per-mtok", "1.25", "--output-usd-per-mtok", "10");
        var models = await CliAsync("models", "list");
        var simulated = await CliAsync("simulate", "demo", "--task-type", "support", "--model", "claude-sonnet-4-5", "-o", "json");
        var granted = await CliWithAsync([], ["--address", server.Address, "--key", secret, "budget", "get", "demo", "--task-type", "support", "--model", "claude-sonnet-4-5", "--principal", "ann", "-o", "json"]);
        var usage = await CliAsync("usage", "demo", "-o", "json");
        var usageTable = await CliAsync("usage", "demo");
        var audit = await CliAsync("audit", "--org", "demo", "--limit", "5");
        var revoked = await CliAsync("keys", "revoke", keyId);
        var afterRevoke = await CliWithAsync([], ["--address", server.Address, "--key", secret, "budget", "get", "demo", "--task-type", "support", "--model", "claude-sonnet-4-5"]);
        var callerOnAdmin = await CliWithAsync([], ["--address", server.Address, "--key", "tb_nobody", "orgs", "list"]);

        Assert.Equal(0, key.Exit);
        Assert.StartsWith("tb_", secret, StringComparison.Ordinal);
        Assert.Contains(keyId, keys.Out, StringComparison.Ordinal);
        Assert.DoesNotContain(secret, keys.Out, StringComparison.Ordinal);
        Assert.Contains("created quota demo:principal:ann:requests:hour", quota.Out, StringComparison.Ordinal);
        Assert.Matches(@"demo:principal:ann:requests:hour\s+demo\s+principal\s+ann\s+requests\s+hour\s+7", quotas.Out);
        Assert.Equal(0, model.Exit);
        Assert.Matches(@"cli-model\s+openai\s+effort\s+1\.25", models.Out);
        Assert.False(simulated.Json.TryGetProperty("denied", out _));
        Assert.Equal(0, granted.Exit);
        Assert.Equal(simulated.Json.GetProperty("grant").GetProperty("budget").GetProperty("reasoning_tokens").ToString(), granted.Json.GetProperty("budget").GetProperty("reasoning_tokens").ToString());
        Assert.Equal("1", usage.Json.GetProperty("grants").ToString()); // proto JSON writes int64 as a string
        Assert.Contains(usage.Json.GetProperty("quotas").EnumerateArray(), q => q.GetProperty("quota_id").GetString() == "demo:principal:ann:requests:hour" && q.GetProperty("reserved").GetString() == "1");
        Assert.Matches(@"granted\s+0\s+0\s+0\s+4,096\s+2,048", usageTable.Out);
        Assert.Matches(@"SetQuota\s+quota demo:principal:ann:requests:hour", audit.Out);
        Assert.Equal(0, revoked.Exit);
        Assert.Equal(3, afterRevoke.Exit);
        Assert.Contains("KEY_INVALID", afterRevoke.Error, StringComparison.Ordinal);
        Assert.Equal(3, callerOnAdmin.Exit);
    }

    [Fact]
    public async Task Each_class_of_failure_exits_with_the_code_docs_cli_md_gives_it()
    {
        var documented = DocumentedExitCodes();
        var caller = (await CliAsync("keys", "create", "--role", "caller", "--org", "demo", "-o", "json")).Json.GetProperty("secret").GetString()!;
        var empty = Path.Combine(Path.GetTempPath(), "tb-no-config-" + Guid.NewGuid().ToString("N")[..8]);

        var noKey = await CliWithAsync(new() { ["HOME"] = empty }, ["--address", server.Address, "orgs", "list"]);
        var usage = await CliAsync("orgs", "list", "--no-such-flag");
        var notFound = await CliAsync("orgs", "get", "no-such-org");
        var permission = await CliWithAsync([], ["--address", server.Address, "--key", caller, "orgs", "list"]);
        var conflict = await CliAsync("orgs", "create", "demo", "--tier", "standard");
        var unavailable = await CliWithAsync([], ["--address", "http://127.0.0.1:1", "--key", CliServer.AdminKey, "orgs", "list"]);

        Assert.Equal("ok", documented[ExitCodes.Ok]);
        Assert.Equal((documented["no key"], documented["usage"], documented["not found"], documented["not allowed"], documented["conflict"], documented["unavailable"]), (ExitCodes.Permission, ExitCodes.Usage, ExitCodes.NotFound, ExitCodes.Permission, ExitCodes.Conflict, ExitCodes.Unavailable));
        Assert.Equal(documented["no key"], noKey.Exit);
        Assert.Contains("No API key", noKey.Error, StringComparison.Ordinal);
        Assert.Equal(documented["usage"], usage.Exit);
        Assert.Equal(documented["not found"], notFound.Exit);
        Assert.Equal(documented["not allowed"], permission.Exit);
        Assert.Contains("PermissionDenied", permission.Error, StringComparison.Ordinal);
        Assert.Equal(documented["conflict"], conflict.Exit);
        Assert.Contains("AlreadyExists", conflict.Error, StringComparison.Ordinal);
        Assert.Equal(documented["unavailable"], unavailable.Exit);
    }

    [Fact]
    public async Task Models_set_with_some_fields_changes_only_those_and_keeps_the_rest()
    {
        var created = await CliAsync("models", "set", "partial-model", "--family", "anthropic", "--input-usd-per-mtok", "3", "--output-usd-per-mtok", "15", "--cached-input-usd-per-mtok", "0.3", "--cache-write-usd-per-mtok", "3.75", "--min-thinking-tokens", "2048", "--max-thinking-tokens", "32000");
        var before = await ModelAsync("partial-model");
        var changed = await CliAsync("models", "set", "partial-model", "--output-usd-per-mtok", "20");
        var after = await ModelAsync("partial-model");
        var newWithoutPrices = await CliAsync("models", "set", "partial-model-2", "--output-usd-per-mtok", "20");
        var stale = await CliAsync("models", "set", "partial-model", "--input-usd-per-mtok", "4", "--etag", before.GetProperty("etag").GetString()!);

        Assert.Equal(0, created.Exit);
        Assert.Equal(0, changed.Exit);
        Assert.Contains("updated model partial-model", changed.Out, StringComparison.Ordinal);
        Assert.Equal("20000000", after.GetProperty("output_micros_per_mtok").GetString());
        foreach (var kept in new[] { "family", "thinking", "input_micros_per_mtok", "cached_input_micros_per_mtok", "cache_write_micros_per_mtok", "min_thinking_tokens", "max_thinking_tokens" })
        {
            Assert.Equal(before.GetProperty(kept).ToString(), after.GetProperty(kept).ToString());
        }

        Assert.Equal("300000", after.GetProperty("cached_input_micros_per_mtok").GetString());
        Assert.Equal(1, newWithoutPrices.Exit);
        Assert.Contains("a new model needs --family, --input-usd-per-mtok and --output-usd-per-mtok", newWithoutPrices.Error, StringComparison.Ordinal);
        Assert.DoesNotContain((await CliAsync("models", "list", "-o", "json")).Json.GetProperty("models").EnumerateArray(), m => m.GetProperty("name").GetString() == "partial-model-2");
        Assert.Equal(4, stale.Exit);
        Assert.Equal(after.GetProperty("input_micros_per_mtok").ToString(), (await ModelAsync("partial-model")).GetProperty("input_micros_per_mtok").ToString());
    }

    private async Task<JsonElement> ModelAsync(string name) =>
        (await CliAsync("models", "list", "-o", "json")).Json.GetProperty("models").EnumerateArray().Single(m => m.GetProperty("name").GetString() == name);

    /// <summary>docs/cli.md's exit code table: each meaning's first words to its code, and the code of "ok".</summary>
    private static Dictionary<object, object> DocumentedExitCodes()
    {
        var rows = File.ReadAllLines(Path.Combine(Repository.Root, "docs", "cli.md"))
            .Select(l => System.Text.RegularExpressions.Regex.Match(l, @"^\| `(\d+)` \| (.+) \|$")).Where(m => m.Success)
            .Select(m => (Code: int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), Meaning: m.Groups[2].Value)).ToList();
        var map = new Dictionary<object, object>();
        foreach (var (code, meaning) in rows)
        {
            map[code] = meaning;
            foreach (var phrase in new[] { "no key", "usage", "not found", "not allowed", "conflict", "unavailable" })
            {
                if (meaning.Contains(phrase, StringComparison.Ordinal))
                {
                    map[phrase] = code;
                }
            }
        }

        return map;
    }

    [Fact]
    public async Task Address_and_key_come_from_flags_the_environment_or_the_config_file()
    {
        var home = Path.Combine(Path.GetTempPath(), "tb-home-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(Path.Combine(home, ".config", "taskbudgets"));
        await File.WriteAllTextAsync(Path.Combine(home, ".config", "taskbudgets", "config.json"), JsonSerializer.Serialize(new Dictionary<string, string> { ["address"] = server.Address, ["api_key"] = CliServer.AdminKey }));
        try
        {
            var fromEnv = await CliWithAsync(new() { ["TASKBUDGETS_ADDRESS"] = server.Address, ["TASKBUDGETS_API_KEY"] = CliServer.AdminKey }, ["orgs", "get", "demo"]);
            var fromConfig = await CliWithAsync(new() { ["HOME"] = home }, ["orgs", "get", "demo"]);
            var flagWins = await CliWithAsync(new() { ["HOME"] = home }, ["--key", "tb_wrong", "orgs", "get", "demo"]);
            var noKey = await CliWithAsync(new() { ["TASKBUDGETS_ADDRESS"] = server.Address, ["HOME"] = Path.Combine(home, "empty") }, ["orgs", "get", "demo"]);
            var unreachable = await CliWithAsync(new() { ["TASKBUDGETS_API_KEY"] = CliServer.AdminKey, ["HOME"] = Path.Combine(home, "empty") }, ["--address", "http://127.0.0.1:1", "orgs", "list"]);

            Assert.Equal(0, fromEnv.Exit);
            Assert.Contains("Demo org", fromEnv.Out, StringComparison.Ordinal);
            Assert.Equal(0, fromConfig.Exit);
            Assert.Equal(3, flagWins.Exit);
            Assert.Equal(3, noKey.Exit);
            Assert.Contains("No API key", noKey.Error, StringComparison.Ordinal);
            Assert.Equal(5, unreachable.Exit);
        }
        finally
        {
            Directory.Delete(home, recursive: true);
        }
    }

    [Fact]
    public async Task Calibration_shows_each_tier_and_task_type_as_a_table_and_as_json()
    {
        // Three calls complete at 700; the fourth runs out of its budget, so the 99th percentile
        // lies beyond anything seen.
        for (var i = 0; i < 4; i++)
        {
            await SettleAsync(new TaskBudgets.V1.GetBudgetRequest { OrgId = "acme", TaskType = "research", Model = "claude-sonnet-4-5" }, used: 700, answer: 200, truncated: i == 3);
        }

        // The sync can fall between two of the reports: wait for all four, not for the first published row.
        var json = await CliUntilAsync(run => PublishedSamples(run) >= 3.99, "calibration", "--tier", "premium", "--task-type", "research", "-o", "json");
        var table = await CliAsync("calibration", "--tier", "premium");
        var unknown = await CliAsync("calibration", "--tier", "no-such-tier");

        Assert.Equal(0, json.Exit);
        var row = json.Json.GetProperty("calibrations")[0];
        Assert.Equal("research", row.GetProperty("task_type").GetString());
        Assert.InRange(row.GetProperty("samples").GetDouble(), 3.99, 4.0); // decayed, on a real clock
        Assert.InRange(long.Parse(row.GetProperty("used_p50").GetString()!, System.Globalization.CultureInfo.InvariantCulture), 690, 720); // int64 is a string in proto JSON
        Assert.False(row.TryGetProperty("used_p50_censored", out _)); // false is left out of proto JSON
        Assert.True(row.GetProperty("used_p99_censored").GetBoolean());
        Assert.True(long.Parse(row.GetProperty("recommended_budget").GetString()!, System.Globalization.CultureInfo.InvariantCulture) > 0);
        Assert.Equal(0, table.Exit);
        Assert.Contains("RECOMMENDED", table.Out, StringComparison.Ordinal);
        Assert.Contains("CHANGES", table.Out, StringComparison.Ordinal);
        Assert.Contains("FEATURES", table.Out, StringComparison.Ordinal);
        Assert.Contains("research", table.Out, StringComparison.Ordinal);
        Assert.Matches(@"beyond [0-9,]+ \(censored\)", table.Out);
        Assert.Equal(2, unknown.Exit);
        Assert.Contains("TIER_NOT_FOUND", unknown.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Calibration_shows_the_learned_effect_of_a_phase()
    {
        // Preliminary triage calls use a fifth of what standard ones do. Acme's premium tier has no
        // "triage" rule, so they count under its "*" rule; other tests count demo's usage.
        for (var i = 0; i < 120; i++)
        {
            var preliminary = i % 2 == 0;
            var features = new TaskBudgets.V1.TaskFeatures { Phase = preliminary ? TaskBudgets.V1.Phase.Preliminary : TaskBudgets.V1.Phase.Standard };
            await SettleAsync(new TaskBudgets.V1.GetBudgetRequest { OrgId = "acme", TaskType = "triage", Model = "claude-sonnet-4-5", Features = features }, used: preliminary ? 100 : 500, answer: 100);
        }

        var table = await CliUntilAsync(run => run.Out.Contains("preliminary x", StringComparison.Ordinal), "calibration", "--tier", "premium", "--task-type", "*");
        var json = await CliAsync("calibration", "--tier", "premium", "--task-type", "*", "-o", "json");

        Assert.Equal(0, table.Exit);
        Assert.Matches(@"preliminary x0\.(19|2|21)\b", table.Out);
        Assert.InRange(json.Json.GetProperty("calibrations")[0].GetProperty("preliminary_phase_factor").GetDouble(), 0.19, 0.21);
    }

    /// <summary>
    /// One call through the server's API as its caller makes it: GetBudget, then ReportUsage with
    /// <paramref name="used"/> reasoning tokens and an answer of <paramref name="answer"/>, or,
    /// when <paramref name="truncated"/>, all of its budget and MAX_TOKENS.
    /// </summary>
    private async Task SettleAsync(TaskBudgets.V1.GetBudgetRequest request, long used, long answer, bool truncated = false)
    {
        using var channel = Grpc.Net.Client.GrpcChannel.ForAddress(server.Address);
        var budgets = new TaskBudgets.V1.BudgetService.BudgetServiceClient(channel);
        var key = new Grpc.Core.Metadata { { "authorization", "Bearer " + CliServer.AdminKey } };
        var grant = await budgets.GetBudgetAsync(request, key);
        await budgets.ReportUsageAsync(
            new TaskBudgets.V1.ReportUsageRequest
            {
                GrantId = grant.GrantId,
                Usage = new TaskBudgets.V1.UsageTokens
                {
                    OutputTokens = truncated ? grant.Budget.MaxOutputTokens : used + answer,
                    ReasoningTokens = truncated ? grant.Budget.ReasoningTokens : used,
                },
                StopReason = truncated ? TaskBudgets.V1.StopReason.MaxTokens : TaskBudgets.V1.StopReason.EndTurn,
            },
            key);
    }

    /// <summary>
    /// Runs the CLI every 200 ms until <paramref name="done"/> holds or 20 s pass: the replica
    /// publishes what it learned on its sync interval.
    /// </summary>
    private async Task<Run> CliUntilAsync(Func<Run, bool> done, params string[] args)
    {
        Run run;
        var deadline = DateTime.UtcNow.AddSeconds(20);
        do
        {
            await Task.Delay(200);
            run = await CliAsync(args);
        }
        while (!done(run) && DateTime.UtcNow < deadline);
        return run;
    }

    private static double PublishedSamples(Run run) =>
        run.Exit == 0
        && run.Json.TryGetProperty("calibrations", out var rows)
        && rows.GetArrayLength() > 0
        && rows[0].TryGetProperty("samples", out var samples)
            ? samples.GetDouble()
            : 0;
}
