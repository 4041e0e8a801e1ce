using Google.Protobuf;
using Google.Protobuf.Reflection;
using TaskBudgets.Policies;
using TaskBudgets.V1;

namespace TaskBudgets.Cli;

/// <summary>One change `apply` makes: "+" create, "~" update, "-" delete.</summary>
internal sealed record PlannedChange(string Action, string Kind, string Name, string Detail, Func<AdminService.AdminServiceClient, CancellationToken, Task> Apply)
{
    public override string ToString() => Detail.Length == 0 ? $"{Action} {Kind} {Name}" : $"{Action} {Kind} {Name}: {Detail}";
}

/// <summary>
/// The difference between a policy file and the running service, as the changes that make the
/// service match the file. Resources are compared by their etags, which both sides compute from
/// content the same way, so applying the same file twice changes nothing the second time.
/// Without prune, nothing is deleted; models are never deleted (the API has no DeleteModel).
/// </summary>
internal static class PolicyPlan
{
    public static async Task<List<PlannedChange>> DiffAsync(CheckedPolicy file, AdminService.AdminServiceClient admin, bool prune, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentNullException.ThrowIfNull(admin);
        var models = (await ListAsync(t => admin.ListModelsAsync(new ListModelsRequest { PageSize = 1000, PageToken = t }, cancellationToken: cancellationToken).ResponseAsync, r => (r.Models, r.NextPageToken))).ToDictionary(m => m.Name, StringComparer.Ordinal);
        var tiers = (await ListAsync(t => admin.ListTiersAsync(new ListTiersRequest { PageSize = 1000, PageToken = t }, cancellationToken: cancellationToken).ResponseAsync, r => (r.Tiers, r.NextPageToken))).ToDictionary(x => x.Name, StringComparer.Ordinal);
        var orgs = (await ListAsync(t => admin.ListOrgsAsync(new ListOrgsRequest { PageSize = 1000, PageToken = t }, cancellationToken: cancellationToken).ResponseAsync, r => (r.Orgs, r.NextPageToken))).ToDictionary(o => o.OrgId, StringComparer.Ordinal);
        var quotas = (await ListAsync(t => admin.ListQuotasAsync(new ListQuotasRequest { PageSize = 1000, PageToken = t }, cancellationToken: cancellationToken).ResponseAsync, r => (r.Quotas, r.NextPageToken))).ToDictionary(q => q.QuotaId, StringComparer.Ordinal);

        var plan = new List<PlannedChange>();
        foreach (var wanted in file.Models.Select(PolicyProtos.ToProto).OrderBy(m => m.Name, StringComparer.Ordinal))
        {
            var current = models.GetValueOrDefault(wanted.Name);
            if (current?.Etag != wanted.Etag)
            {
                var etag = current?.Etag ?? string.Empty;
                plan.Add(new(current is null ? "+" : "~", "model", wanted.Name, Describe(current, wanted), (a, ct) => a.SetModelAsync(new SetModelRequest { Model = wanted, Etag = etag }, cancellationToken: ct).ResponseAsync));
            }
        }

        foreach (var wanted in file.Tiers.Select(PolicyProtos.ToProto).OrderBy(t => t.Name, StringComparer.Ordinal))
        {
            var current = tiers.GetValueOrDefault(wanted.Name);
            if (current?.Etag != wanted.Etag)
            {
                var etag = current?.Etag ?? string.Empty;
                plan.Add(new(current is null ? "+" : "~", "tier", wanted.Name, Describe(current, wanted), (a, ct) => a.UpsertTierAsync(new UpsertTierRequest { Tier = wanted, Etag = etag }, cancellationToken: ct).ResponseAsync));
            }
        }

        foreach (var wanted in file.Orgs.Select(PolicyProtos.ToProto).OrderBy(o => o.OrgId, StringComparer.Ordinal))
        {
            var current = orgs.GetValueOrDefault(wanted.OrgId);
            if (current is null)
            {
                plan.Add(new("+", "org", wanted.OrgId, Describe(null, wanted), (a, ct) => a.CreateOrgAsync(new CreateOrgRequest { Org = wanted }, cancellationToken: ct).ResponseAsync));
            }
            else if (current.Etag != wanted.Etag)
            {
                var etag = current.Etag;
                plan.Add(new("~", "org", wanted.OrgId, Describe(current, wanted), (a, ct) => a.UpdateOrgAsync(new UpdateOrgRequest { Org = wanted, UpdateMask = new Google.Protobuf.WellKnownTypes.FieldMask(), Etag = etag }, cancellationToken: ct).ResponseAsync));
            }
        }

        var wantedQuotas = file.Orgs.SelectMany(o => o.Quotas).Select(PolicyProtos.ToProto).ToDictionary(q => q.QuotaId, StringComparer.Ordinal);
        var sets = new List<PlannedChange>();
        foreach (var wanted in wantedQuotas.Values.OrderBy(q => q.QuotaId, StringComparer.Ordinal))
        {
            var current = quotas.GetValueOrDefault(wanted.QuotaId);
            if (current is not null && (current.OrgId != wanted.OrgId || current.Scope != wanted.Scope || current.Subject != wanted.Subject || current.Metric != wanted.Metric || current.Window != wanted.Window))
            {
                // Its identity changed: delete it and set it anew (its counters start again).
                plan.Add(new("-", "quota", current.QuotaId, "scope, subject, metric or window changed", DeleteQuota(current)));
                current = null;
            }

            if (current?.Etag != wanted.Etag)
            {
                var etag = current?.Etag ?? string.Empty;
                sets.Add(new(current is null ? "+" : "~", "quota", wanted.QuotaId, Describe(current, wanted), (a, ct) => a.SetQuotaAsync(new SetQuotaRequest { Quota = wanted, Etag = etag }, cancellationToken: ct).ResponseAsync));
            }
        }

        var fileOrgs = file.Orgs.Select(o => o.Id).ToHashSet(StringComparer.Ordinal);
        var fileTiers = file.Tiers.Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
        if (prune)
        {
            foreach (var extra in quotas.Values.Where(q => !wantedQuotas.ContainsKey(q.QuotaId) && fileOrgs.Contains(q.OrgId)).OrderBy(q => q.QuotaId, StringComparer.Ordinal))
            {
                plan.Add(new("-", "quota", extra.QuotaId, "not in the file", DeleteQuota(extra)));
            }
        }

        plan.AddRange(sets);
        if (prune)
        {
            foreach (var extra in orgs.Values.Where(o => !fileOrgs.Contains(o.OrgId)).OrderBy(o => o.OrgId, StringComparer.Ordinal))
            {
                plan.Add(new("-", "org", extra.OrgId, "not in the file (its quotas go with it, its keys are revoked)", (a, ct) => a.DeleteOrgAsync(new DeleteOrgRequest { OrgId = extra.OrgId, Etag = extra.Etag }, cancellationToken: ct).ResponseAsync));
            }

            foreach (var extra in tiers.Values.Where(t => !fileTiers.Contains(t.Name)).OrderBy(t => t.Name, StringComparer.Ordinal))
            {
                plan.Add(new("-", "tier", extra.Name, "not in the file", (a, ct) => a.DeleteTierAsync(new DeleteTierRequest { Name = extra.Name, Etag = extra.Etag }, cancellationToken: ct).ResponseAsync));
            }
        }

        return plan;
    }

    /// <summary>The resources not in the file that apply keeps without --prune (models: always).</summary>
    public static async Task<List<string>> KeptAsync(CheckedPolicy file, AdminService.AdminServiceClient admin, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentNullException.ThrowIfNull(admin);
        var models = await ListAsync(t => admin.ListModelsAsync(new ListModelsRequest { PageSize = 1000, PageToken = t }, cancellationToken: cancellationToken).ResponseAsync, r => (r.Models, r.NextPageToken));
        var inFile = file.Models.Select(m => m.Name).ToHashSet(StringComparer.Ordinal);
        return models.Where(m => !inFile.Contains(m.Name)).Select(m => $"model {m.Name}").ToList();
    }

    private static Func<AdminService.AdminServiceClient, CancellationToken, Task> DeleteQuota(Quota quota) =>
        (a, ct) => a.DeleteQuotaAsync(new DeleteQuotaRequest { OrgId = quota.OrgId, QuotaId = quota.QuotaId, Etag = quota.Etag }, cancellationToken: ct).ResponseAsync;

    /// <summary>"field: old -> new" for each field that differs (etag aside).</summary>
    private static string Describe(IMessage? current, IMessage wanted)
    {
        var changes = new List<string>();
        foreach (var field in wanted.Descriptor.Fields.InDeclarationOrder())
        {
            if (field.Name == "etag")
            {
                continue;
            }

            var after = field.Accessor.GetValue(wanted);
            var before = current is null ? null : field.Accessor.GetValue(current);
            if (current is not null && Equals(before, after))
            {
                continue;
            }

            if (current is null)
            {
                if (!IsDefault(field, after))
                {
                    changes.Add($"{field.Name}={Show(field, after)}");
                }
            }
            else
            {
                changes.Add($"{field.Name}: {Show(field, before)} -> {Show(field, after)}");
            }
        }

        return string.Join(", ", changes);
    }

    private static bool IsDefault(FieldDescriptor field, object? value) =>
        value is null || (field.IsRepeated && value is System.Collections.ICollection { Count: 0 }) || (!field.IsRepeated && Equals(value, field.FieldType switch
        {
            FieldType.String => string.Empty,
            FieldType.Int64 => 0L,
            FieldType.Int32 => 0,
            FieldType.Double => 0.0,
            FieldType.Bool => false,
            _ => null,
        }));

    private static string Show(FieldDescriptor field, object? value) => value switch
    {
        null => "-",
        System.Collections.IEnumerable list when field.IsRepeated && field.FieldType == FieldType.Message => $"[{list.Cast<object>().Count()} items]",
        System.Collections.IEnumerable list when field.IsRepeated => $"[{string.Join(",", list.Cast<object>())}]",
        _ => value.ToString() ?? "-",
    };

    private static async Task<List<T>> ListAsync<TResponse, T>(Func<string, Task<TResponse>> page, Func<TResponse, (IEnumerable<T> Items, string Next)> read)
    {
        var all = new List<T>();
        var token = string.Empty;
        do
        {
            var (items, next) = read(await page(token));
            all.AddRange(items);
            token = next;
        }
        while (token.Length > 0);
        return all;
    }
}
