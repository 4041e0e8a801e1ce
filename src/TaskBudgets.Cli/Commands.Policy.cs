using System.CommandLine;
using TaskBudgets.Policies;
using TaskBudgets.V1;

namespace TaskBudgets.Cli;

internal sealed partial class Commands
{
    private Command Orgs()
    {
        var org = Arg("org", "The org id.");
        var tierFilter = Opt("--tier", "Only orgs of this tier.");
        var tier = Opt("--tier", "The org's tier.");
        var displayName = Opt("--display-name", "Display name.");
        var projects = new Option<string[]>("--project") { Description = "A project of the org (repeat for more).", AllowMultipleArgumentsPerToken = false };
        var clearProjects = new Option<bool>("--clear-projects") { Description = "Remove every project." };
        var etag = Opt("--etag", "Only if the org is still at this etag (else exit 4).");
        return Group(
            "orgs",
            "Orgs (tenants).",
            Leaf("list", "List orgs.", async (p, s, ct) =>
            {
                var all = new ListOrgsResponse();
                var token = string.Empty;
                do
                {
                    var page = await s.Server.Admin.ListOrgsAsync(new ListOrgsRequest { PageSize = PageSize, PageToken = token, Tier = p.GetValue(tierFilter) ?? string.Empty }, cancellationToken: ct);
                    all.Orgs.AddRange(page.Orgs);
                    token = page.NextPageToken;
                }
                while (token.Length > 0);
                s.Output.Write(all, () => s.Output.Table(["ORG", "DISPLAY NAME", "TIER", "PROJECTS"], all.Orgs.Select(o => new[] { o.OrgId, o.DisplayName, o.Tier, string.Join(",", o.Projects) })));
                return ExitCodes.Ok;
            }, tierFilter),
            Leaf("get", "Show one org.", async (p, s, ct) =>
            {
                var response = await s.Server.Admin.GetOrgAsync(new GetOrgRequest { OrgId = p.GetValue(org) }, cancellationToken: ct);
                WriteOrg(s.Output, response, response.Org);
                return ExitCodes.Ok;
            }, org),
            Leaf("create", "Create an org.", async (p, s, ct) =>
            {
                var created = new Org { OrgId = p.GetValue(org)!, Tier = p.GetValue(tier) ?? throw new UsageException("--tier is required."), DisplayName = p.GetValue(displayName) ?? string.Empty };
                created.Projects.AddRange(p.GetValue(projects) ?? []);
                var response = await s.Server.Admin.CreateOrgAsync(new CreateOrgRequest { Org = created }, cancellationToken: ct);
                WriteOrg(s.Output, response, response.Org);
                return ExitCodes.Ok;
            }, org, tier, displayName, projects),
            Leaf("update", "Change an org's display name, tier or projects (only the flags given).", async (p, s, ct) =>
            {
                var update = new UpdateOrgRequest { Org = new Org { OrgId = p.GetValue(org)! }, UpdateMask = new Google.Protobuf.WellKnownTypes.FieldMask(), Etag = p.GetValue(etag) ?? string.Empty };
                if (p.GetValue(displayName) is { } name)
                {
                    update.Org.DisplayName = name;
                    update.UpdateMask.Paths.Add("display_name");
                }

                if (p.GetValue(tier) is { } newTier)
                {
                    update.Org.Tier = newTier;
                    update.UpdateMask.Paths.Add("tier");
                }

                if (p.GetValue(projects) is { Length: > 0 } || p.GetValue(clearProjects))
                {
                    update.Org.Projects.AddRange(p.GetValue(projects) ?? []);
                    update.UpdateMask.Paths.Add("projects");
                }

                if (update.UpdateMask.Paths.Count == 0)
                {
                    throw new UsageException("Nothing to update: give --display-name, --tier, --project or --clear-projects.");
                }

                var response = await s.Server.Admin.UpdateOrgAsync(update, cancellationToken: ct);
                WriteOrg(s.Output, response, response.Org);
                return ExitCodes.Ok;
            }, org, displayName, tier, projects, clearProjects, etag),
            Leaf("delete", "Delete an org, its quotas, and revoke its keys.", async (p, s, ct) =>
            {
                var response = await s.Server.Admin.DeleteOrgAsync(new DeleteOrgRequest { OrgId = p.GetValue(org), Etag = p.GetValue(etag) ?? string.Empty }, cancellationToken: ct);
                s.Output.Write(response, () => s.Output.Out.WriteLine($"deleted org {p.GetValue(org)}"));
                return ExitCodes.Ok;
            }, org, etag));
    }

    private static void WriteOrg(Output output, Google.Protobuf.IMessage response, Org org) =>
        output.Write(response, () => output.Fields(("org", org.OrgId), ("display name", org.DisplayName), ("tier", org.Tier), ("projects", string.Join(",", org.Projects)), ("etag", org.Etag)));

    private Command Tiers()
    {
        var name = Arg("name", "The tier name.");
        var file = new Option<string>("--file", "-f") { Description = "A policy file (YAML, the server's format); every tier in it is upserted.", Required = true };
        var etag = Opt("--etag", "Only if the tier is still at this etag (else exit 4).");
        return Group(
            "tiers",
            "Tier policies and their per-task-type rules.",
            Leaf("list", "List tiers with their rules.", async (_, s, ct) =>
            {
                var all = new ListTiersResponse();
                var token = string.Empty;
                do
                {
                    var page = await s.Server.Admin.ListTiersAsync(new ListTiersRequest { PageSize = PageSize, PageToken = token }, cancellationToken: ct);
                    all.Tiers.AddRange(page.Tiers);
                    token = page.NextPageToken;
                }
                while (token.Length > 0);
                s.Output.Write(all, () => WriteRules(s.Output, all.Tiers));
                return ExitCodes.Ok;
            }),
            Leaf("get", "Show one tier.", async (p, s, ct) =>
            {
                var response = await s.Server.Admin.GetTierAsync(new GetTierRequest { Name = p.GetValue(name) }, cancellationToken: ct);
                s.Output.Write(response, () =>
                {
                    WriteRules(s.Output, [response.Tier]);
                    s.Output.Out.WriteLine($"etag {response.Tier.Etag}");
                });
                return ExitCodes.Ok;
            }, name),
            Leaf("upsert", "Create or replace the tiers of a policy file.", async (p, s, ct) =>
            {
                var document = PolicyDocument.Load(p.GetValue(file)!);
                var errors = new List<string>();
                var tiers = document.Tiers.Select((t, i) => PolicyDocument.CheckTier(errors, $"tiers[{i}]", t)).ToList();
                if (errors.Count > 0)
                {
                    throw new PolicyException(errors);
                }

                foreach (var tier in tiers)
                {
                    var response = await s.Server.Admin.UpsertTierAsync(new UpsertTierRequest { Tier = PolicyProtos.ToProto(tier), Etag = p.GetValue(etag) ?? string.Empty }, cancellationToken: ct);
                    s.Output.Write(response, () => s.Output.Out.WriteLine($"{(response.Created ? "created" : "updated")} tier {response.Tier.Name} ({response.Tier.Rules.Count} rules)"));
                }

                return ExitCodes.Ok;
            }, file, etag),
            Leaf("delete", "Delete a tier no org uses.", async (p, s, ct) =>
            {
                var response = await s.Server.Admin.DeleteTierAsync(new DeleteTierRequest { Name = p.GetValue(name), Etag = p.GetValue(etag) ?? string.Empty }, cancellationToken: ct);
                s.Output.Write(response, () => s.Output.Out.WriteLine($"deleted tier {p.GetValue(name)}"));
                return ExitCodes.Ok;
            }, name, etag));
    }

    private static void WriteRules(Output output, IEnumerable<Tier> tiers) =>
        output.Table(
            ["TIER", "TASK TYPE", "MIN", "DEFAULT", "MAX", "ANSWER", "MAX OUTPUT", "EFFORT", "SOFT LIMIT", "TASK BUDGET"],
            tiers.SelectMany(t => t.Rules.Select(r => new[]
            {
                t.Name, r.TaskType, N(r.MinReasoningTokens), N(r.DefaultReasoningTokens), N(r.MaxReasoningTokens), N(r.AnswerTokens), N(r.MaxOutputTokens),
                Lower(r.Effort, "EFFORT_"), r.SoftLimitThreshold.ToString("0.##", System.Globalization.CultureInfo.InvariantCulture), N(r.TaskBudgetTokens),
            })));

    private Command Quotas()
    {
        var orgFilter = Opt("--org", "Only this org's quotas.");
        var org = Arg("org", "The org id.");
        var id = Arg("quota-id", "The quota id.");
        var orgOption = new Option<string>("--org") { Description = "The org.", Required = true };
        var scope = Choice("--scope", "org, project or principal.", "org", "org", "project", "principal");
        var subject = Opt("--subject", "For project or principal scope: which one (empty: each one separately).");
        var metric = new Option<string>("--metric") { Description = "reasoning_tokens, output_tokens, total_tokens, requests or cost_micros.", Required = true };
        var window = new Option<string>("--window") { Description = "minute, hour, day or month.", Required = true };
        var limit = new Option<long>("--limit") { Description = "The limit in the metric's unit.", Required = true };
        var quotaId = Opt("--id", "The quota id (default: derived from org, scope, subject, metric and window).");
        var etag = Opt("--etag", "Only if the quota is still at this etag (else exit 4).");
        return Group(
            "quotas",
            "Quotas of orgs, projects and principals.",
            Leaf("list", "List quotas.", async (p, s, ct) =>
            {
                var all = new ListQuotasResponse();
                var token = string.Empty;
                do
                {
                    var page = await s.Server.Admin.ListQuotasAsync(new ListQuotasRequest { OrgId = p.GetValue(orgFilter) ?? string.Empty, PageSize = PageSize, PageToken = token }, cancellationToken: ct);
                    all.Quotas.AddRange(page.Quotas);
                    token = page.NextPageToken;
                }
                while (token.Length > 0);
                s.Output.Write(all, () => WriteQuotas(s.Output, all.Quotas));
                return ExitCodes.Ok;
            }, orgFilter),
            Leaf("get", "Show one quota.", async (p, s, ct) =>
            {
                var response = await s.Server.Admin.GetQuotaAsync(new GetQuotaRequest { OrgId = p.GetValue(org), QuotaId = p.GetValue(id) }, cancellationToken: ct);
                s.Output.Write(response, () => WriteQuotas(s.Output, [response.Quota]));
                return ExitCodes.Ok;
            }, org, id),
            Leaf("set", "Create a quota or change its limit.", async (p, s, ct) =>
            {
                var quota = new Quota
                {
                    QuotaId = p.GetValue(quotaId) ?? string.Empty,
                    OrgId = p.GetValue(orgOption)!,
                    Scope = Scopes[p.GetValue(scope)!],
                    Subject = p.GetValue(subject) ?? string.Empty,
                    Metric = Parse(p.GetValue(metric)!, "--metric", Metrics),
                    Window = Parse(p.GetValue(window)!, "--window", Windows),
                    Limit = p.GetValue(limit),
                };
                var response = await s.Server.Admin.SetQuotaAsync(new SetQuotaRequest { Quota = quota, Etag = p.GetValue(etag) ?? string.Empty }, cancellationToken: ct);
                s.Output.Write(response, () => s.Output.Out.WriteLine($"{(response.Created ? "created" : "updated")} quota {response.Quota.QuotaId}: {MetricName(response.Quota.Metric)} per {WindowName(response.Quota.Window)} <= {N(response.Quota.Limit)}"));
                return ExitCodes.Ok;
            }, orgOption, scope, subject, metric, window, limit, quotaId, etag),
            Leaf("delete", "Delete a quota.", async (p, s, ct) =>
            {
                var response = await s.Server.Admin.DeleteQuotaAsync(new DeleteQuotaRequest { OrgId = p.GetValue(org), QuotaId = p.GetValue(id), Etag = p.GetValue(etag) ?? string.Empty }, cancellationToken: ct);
                s.Output.Write(response, () => s.Output.Out.WriteLine($"deleted quota {p.GetValue(id)}"));
                return ExitCodes.Ok;
            }, org, id, etag));
    }

    private static void WriteQuotas(Output output, IEnumerable<Quota> quotas) =>
        output.Table(
            ["QUOTA", "ORG", "SCOPE", "SUBJECT", "METRIC", "WINDOW", "LIMIT"],
            quotas.Select(q => new[] { q.QuotaId, q.OrgId, Lower(q.Scope, "QUOTA_SCOPE_"), q.Subject.Length == 0 ? "-" : q.Subject, MetricName(q.Metric), WindowName(q.Window), N(q.Limit) }));

    private Command Models()
    {
        var name = Arg("name", "The model name, as callers give it.");
        var family = Opt("--family", "anthropic, openai or gemini (needed for a new model).");
        var thinking = Opt("--thinking", "budget or effort (new model default: effort for openai, else budget).");
        var input = new Option<decimal?>("--input-usd-per-mtok") { Description = "Input price, USD per million tokens (needed for a new model)." };
        var output = new Option<decimal?>("--output-usd-per-mtok") { Description = "Output price, USD per million tokens (needed for a new model)." };
        var cached = new Option<decimal?>("--cached-input-usd-per-mtok") { Description = "Cache-read price (new model default: the input price)." };
        var cacheWrite = new Option<decimal?>("--cache-write-usd-per-mtok") { Description = "Cache-write price (new model default: the input price)." };
        var minThinking = new Option<long?>("--min-thinking-tokens") { Description = "Smallest thinking budget (new model default: 1024 for anthropic, else 0)." };
        var maxThinking = new Option<long?>("--max-thinking-tokens") { Description = "Largest thinking budget (0: no limit; new model default 0)." };
        var etag = Opt("--etag", "Only if the model is still at this etag (else exit 4).");
        return Group(
            "models",
            "Models and their prices.",
            Leaf("list", "List models.", async (_, s, ct) =>
            {
                var all = new ListModelsResponse();
                var token = string.Empty;
                do
                {
                    var page = await s.Server.Admin.ListModelsAsync(new ListModelsRequest { PageSize = PageSize, PageToken = token }, cancellationToken: ct);
                    all.Models.AddRange(page.Models);
                    token = page.NextPageToken;
                }
                while (token.Length > 0);
                s.Output.Write(all, () => s.Output.Table(
                    ["MODEL", "FAMILY", "THINKING", "INPUT $/MTOK", "CACHED $/MTOK", "CACHE WRITE $/MTOK", "OUTPUT $/MTOK"],
                    all.Models.Select(m => new[] { m.Name, Lower(m.Family, "MODEL_FAMILY_"), Lower(m.Thinking, "THINKING_MODE_"), Usd(m.InputMicrosPerMtok), Usd(m.CachedInputMicrosPerMtok), Usd(m.CacheWriteMicrosPerMtok), Usd(m.OutputMicrosPerMtok) })));
                return ExitCodes.Ok;
            }),
            Leaf("set", "Create a model, or change the given fields of an existing one (the others are kept).", async (p, s, ct) =>
            {
                var modelName = p.GetValue(name)!;
                var current = await FindModelAsync(s, modelName, ct);
                Model model;
                if (current is null)
                {
                    if (p.GetValue(family) is null || p.GetValue(input) is null || p.GetValue(output) is null)
                    {
                        throw new UsageException($"There is no model '{modelName}' yet: a new model needs --family, --input-usd-per-mtok and --output-usd-per-mtok.");
                    }

                    model = new Model { Name = modelName };
                }
                else
                {
                    model = current.Clone();
                    model.Etag = string.Empty;
                }

                if (p.GetValue(family) is { } f)
                {
                    model.Family = Parse(f, "--family", Families);
                }

                model.Thinking = p.GetValue(thinking) switch
                {
                    null => model.Thinking,
                    "budget" => ThinkingMode.Budget,
                    "effort" => ThinkingMode.Effort,
                    var other => throw new UsageException($"--thinking must be budget or effort, not '{other}'."),
                };
                if (p.GetValue(input) is { } i)
                {
                    model.InputMicrosPerMtok = Micros(i);
                }

                if (p.GetValue(output) is { } o)
                {
                    model.OutputMicrosPerMtok = Micros(o);
                }

                if (p.GetValue(cached) is { } c)
                {
                    model.CachedInputMicrosPerMtok = Micros(c);
                }

                if (p.GetValue(cacheWrite) is { } w)
                {
                    model.CacheWriteMicrosPerMtok = Micros(w);
                }

                if (p.GetValue(minThinking) is { } min)
                {
                    model.MinThinkingTokens = min;
                }

                if (p.GetValue(maxThinking) is { } max)
                {
                    model.MaxThinkingTokens = max;
                }

                // The etag read with the model, unless one is given: a change made by someone else
                // between the read and this write is refused (exit 4), not overwritten.
                var expected = p.GetValue(etag) ?? current?.Etag ?? string.Empty;
                var response = await s.Server.Admin.SetModelAsync(new SetModelRequest { Model = model, Etag = expected }, cancellationToken: ct);
                s.Output.Write(response, () => s.Output.Out.WriteLine($"{(response.Created ? "created" : "updated")} model {response.Model.Name}"));
                return ExitCodes.Ok;
            }, name, family, thinking, input, output, cached, cacheWrite, minThinking, maxThinking, etag));
    }

    /// <summary>The model named <paramref name="modelName"/> as the server has it, or null (there is no GetModel: the list is read).</summary>
    private static async Task<Model?> FindModelAsync(CliApp.Session s, string modelName, CancellationToken ct)
    {
        var token = string.Empty;
        do
        {
            var page = await s.Server.Admin.ListModelsAsync(new ListModelsRequest { PageSize = PageSize, PageToken = token }, cancellationToken: ct);
            if (page.Models.FirstOrDefault(m => m.Name == modelName) is { } found)
            {
                return found;
            }

            token = page.NextPageToken;
        }
        while (token.Length > 0);
        return null;
    }
}
