using System.CommandLine;
using TaskBudgets.V1;

namespace TaskBudgets.Cli;

internal sealed partial class Commands
{
    private Command Keys()
    {
        var orgFilter = Opt("--org", "Only keys bound to this org (required for org admin keys).");
        var all = new Option<bool>("--all") { Description = "Include revoked keys." };
        var role = Choice("--role", "caller, org-admin or admin.", "caller", "caller", "org-admin", "admin");
        var org = Opt("--org", "The org the key is bound to (caller and org-admin keys).");
        var description = Opt("--description", "What the key is for.");
        var keyId = Arg("key-id", "The key id (key_...).");
        return Group(
            "keys",
            "API keys.",
            Leaf("list", "List keys (never their secrets).", async (p, s, ct) =>
            {
                var list = new ListApiKeysResponse();
                var token = string.Empty;
                do
                {
                    var page = await s.Server.Admin.ListApiKeysAsync(new ListApiKeysRequest { OrgId = p.GetValue(orgFilter) ?? string.Empty, IncludeRevoked = p.GetValue(all), PageSize = PageSize, PageToken = token }, cancellationToken: ct);
                    list.ApiKeys.AddRange(page.ApiKeys);
                    token = page.NextPageToken;
                }
                while (token.Length > 0);
                s.Output.Write(list, () => s.Output.Table(
                    ["KEY", "ROLE", "ORG", "CREATED", "REVOKED", "CREATED BY", "DESCRIPTION"],
                    list.ApiKeys.Select(k => new[] { k.KeyId, Lower(k.Role, "API_KEY_ROLE_").Replace('_', '-'), k.OrgId.Length == 0 ? "-" : k.OrgId, Time(k.CreateTime), Time(k.RevokeTime), k.CreatedBy, k.Description })));
                return ExitCodes.Ok;
            }, orgFilter, all),
            Leaf("create", "Create a key; its secret is shown this once.", async (p, s, ct) =>
            {
                var response = await s.Server.Admin.CreateApiKeyAsync(new CreateApiKeyRequest { Role = Roles[p.GetValue(role)!], OrgId = p.GetValue(org) ?? string.Empty, Description = p.GetValue(description) ?? string.Empty }, cancellationToken: ct);
                s.Output.Write(response, () =>
                {
                    s.Output.Fields(("key", response.ApiKey.KeyId), ("role", p.GetValue(role)!), ("org", response.ApiKey.OrgId.Length == 0 ? "-" : response.ApiKey.OrgId), ("secret", response.Secret));
                    s.Output.Out.WriteLine("The secret is not shown again: store it now.");
                });
                return ExitCodes.Ok;
            }, role, org, description),
            Leaf("revoke", "Revoke a key.", async (p, s, ct) =>
            {
                var response = await s.Server.Admin.RevokeApiKeyAsync(new RevokeApiKeyRequest { KeyId = p.GetValue(keyId), OrgId = p.GetValue(orgFilter) ?? string.Empty }, cancellationToken: ct);
                s.Output.Write(response, () => s.Output.Out.WriteLine($"revoked key {response.ApiKey.KeyId} at {Time(response.ApiKey.RevokeTime)}"));
                return ExitCodes.Ok;
            }, keyId, orgFilter));
    }

    private Command Audit()
    {
        var org = Opt("--org", "Only changes of this org (required for org admin keys).");
        var resourceType = Opt("--resource-type", "org, tier, quota, model or api_key.");
        var resourceId = Opt("--resource-id", "Only changes of this resource.");
        var actor = Opt("--actor", "Only changes by this key id.");
        var action = Opt("--action", "Only this RPC, e.g. UpdateOrg.");
        var from = Opt("--from", "From this time (ISO 8601).");
        var to = Opt("--to", "Before this time (ISO 8601).");
        var limit = new Option<int>("--limit") { Description = "At most this many events, newest first.", DefaultValueFactory = _ => 50 };
        var details = new Option<bool>("--details") { Description = "Show each change's before and after." };
        return Leaf("audit", "The audit log: who changed what, when, before and after.", async (p, s, ct) =>
        {
            var request = new ListAuditEventsRequest
            {
                OrgId = p.GetValue(org) ?? string.Empty,
                ResourceType = p.GetValue(resourceType) ?? string.Empty,
                ResourceId = p.GetValue(resourceId) ?? string.Empty,
                ActorKeyId = p.GetValue(actor) ?? string.Empty,
                Action = p.GetValue(action) ?? string.Empty,
                StartTime = When(p.GetValue(from), "--from"),
                EndTime = When(p.GetValue(to), "--to"),
            };
            var events = new ListAuditEventsResponse();
            var wanted = Math.Max(1, p.GetValue(limit));
            do
            {
                request.PageSize = Math.Min(PageSize, wanted - events.Events.Count);
                var page = await s.Server.Admin.ListAuditEventsAsync(request, cancellationToken: ct);
                events.Events.AddRange(page.Events);
                request.PageToken = page.NextPageToken;
            }
            while (request.PageToken.Length > 0 && events.Events.Count < wanted);
            s.Output.Write(events, () =>
            {
                s.Output.Table(
                    ["ID", "TIME", "ACTOR", "ACTION", "RESOURCE", "ORG", "VERSION"],
                    events.Events.Select(e => new[] { e.EventId.ToString(System.Globalization.CultureInfo.InvariantCulture), Time(e.Time), e.ActorKeyId, e.Action, $"{e.ResourceType} {e.ResourceId}", e.OrgId.Length == 0 ? "-" : e.OrgId, N(e.PolicyVersion) }));
                if (p.GetValue(details))
                {
                    foreach (var e in events.Events)
                    {
                        s.Output.Out.WriteLine($"#{e.EventId} before: {(e.BeforeJson.Length == 0 ? "-" : e.BeforeJson)}");
                        s.Output.Out.WriteLine($"#{e.EventId} after:  {(e.AfterJson.Length == 0 ? "-" : e.AfterJson)}");
                    }
                }
            });
            return ExitCodes.Ok;
        }, org, resourceType, resourceId, actor, action, from, to, limit, details);
    }
}
