using System.Globalization;
using Microsoft.EntityFrameworkCore;
using TaskBudgets.Governance.Contract;
using TaskBudgets.Governance.Storage;
using TaskBudgets.V1;

namespace TaskBudgets.Governance.Admin;

/// <summary>Reads the audit log (written by <see cref="AdminChanges"/>), newest first.</summary>
public sealed class AuditLog(IDbContextFactory<GovernanceDbContext> contexts)
{
    public async Task<(List<AuditEvent> Events, string Next)> ListAsync(ListAuditEventsRequest request, Paging page, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        long? before = null;
        if (page.After is { } after)
        {
            before = long.TryParse(after, NumberStyles.None, CultureInfo.InvariantCulture, out var id)
                ? id
                : throw GovernanceException.Invalid([new FieldProblem("page_token", "is not a page token of this list")]);
        }

        var startTime = ProtoTimes.Read(request.StartTime, "start_time");
        var endTime = ProtoTimes.Read(request.EndTime, "end_time");
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var query = db.AuditEvents.AsNoTracking();
        if (before is { } b)
        {
            query = query.Where(e => e.Id < b);
        }

        if (request.OrgId.Length > 0)
        {
            query = query.Where(e => e.OrgId == request.OrgId);
        }

        if (request.ResourceType.Length > 0)
        {
            query = query.Where(e => e.ResourceType == request.ResourceType);
        }

        if (request.ResourceId.Length > 0)
        {
            query = query.Where(e => e.ResourceId == request.ResourceId);
        }

        if (request.ActorKeyId.Length > 0)
        {
            query = query.Where(e => e.Actor == request.ActorKeyId);
        }

        if (request.Action.Length > 0)
        {
            query = query.Where(e => e.Action == request.Action);
        }

        if (startTime is { } start)
        {
            var from = start.ToUnixTimeMilliseconds();
            query = query.Where(e => e.AtMs >= from);
        }

        if (endTime is { } end)
        {
            var to = end.ToUnixTimeMilliseconds();
            query = query.Where(e => e.AtMs < to);
        }

        var rows = await query.OrderByDescending(e => e.Id).Take(page.Size + 1).ToListAsync(cancellationToken);
        var next = Paging.Next(rows, page.Size, e => e.Id.ToString(CultureInfo.InvariantCulture));
        return (rows.Select(AdminMapping.ToProto).ToList(), next);
    }
}
