using Google.Protobuf.WellKnownTypes;
using Microsoft.EntityFrameworkCore;
using TaskBudgets.Governance.Contract;
using TaskBudgets.Governance.Policies;
using TaskBudgets.Governance.Quotas;
using TaskBudgets.Governance.Storage;
using TaskBudgets.Governance.Telemetry;
using TaskBudgets.Governance.UsageHistory;
using TaskBudgets.V1;
using DomainMetric = TaskBudgets.Governance.Budgeting.QuotaMetric;
using DomainScope = TaskBudgets.Governance.Budgeting.QuotaScope;

namespace TaskBudgets.Governance.Admin;

/// <summary>
/// An org's usage over a time range: grants and denials from the usage counters, what was used
/// from the settlements, and each quota's current window from its counters and the live
/// reservations of the whole fleet: this replica's own, and what the other replicas' leases
/// record (declared at their last renewal, less what was settled anywhere since).
/// </summary>
public sealed class UsageSummaries(
    IDbContextFactory<GovernanceDbContext> contexts,
    PolicyCatalog catalog,
    QuotaLedger ledger,
    ReplicaIdentity replica,
    UsageCounters counters,
    TimeProvider time)
{
    public async Task<GetUsageSummaryResponse> GetAsync(GetUsageSummaryRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var now = time.GetUtcNow();
        var start = ProtoTimes.Read(request.StartTime, "start_time") ?? new DateTimeOffset(now.UtcDateTime.Date, TimeSpan.Zero);
        var end = ProtoTimes.Read(request.EndTime, "end_time") ?? now;
        if (end < start)
        {
            throw GovernanceException.Invalid([new FieldProblem("end_time", "must not be before start_time")]);
        }

        if (!catalog.Current.Orgs.TryGetValue(request.OrgId, out var org))
        {
            throw GovernanceException.OrgNotFound(request.OrgId);
        }

        // This replica's counts are in at once; other replicas' within Usage:FlushInterval.
        await counters.FlushAsync(cancellationToken);
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var response = new GetUsageSummaryResponse
        {
            OrgId = org.Id,
            StartTime = Timestamp.FromDateTimeOffset(start),
            EndTime = Timestamp.FromDateTimeOffset(end),
            Granted = new TokenCounts(),
            Used = new TokenCounts(),
            Reserved = new TokenCounts(),
        };
        await AddGrantsAsync(db, request, start, end, response, cancellationToken);
        await AddSettlementsAsync(db, request, start, end, response, cancellationToken);
        await AddQuotasAsync(db, request, org, now, response, cancellationToken);
        return response;
    }

    private static async Task AddGrantsAsync(GovernanceDbContext db, GetUsageSummaryRequest r, DateTimeOffset start, DateTimeOffset end, GetUsageSummaryResponse response, CancellationToken cancellationToken)
    {
        var from = start.ToUnixTimeSeconds() - (start.ToUnixTimeSeconds() % 3600);
        var to = end.ToUnixTimeSeconds();
        var query = db.UsageCounters.AsNoTracking().Where(c => c.OrgId == r.OrgId && c.HourStart >= from && c.HourStart <= to);
        query = r.ProjectId.Length > 0 ? query.Where(c => c.ProjectId == r.ProjectId) : query;
        query = r.PrincipalId.Length > 0 ? query.Where(c => c.PrincipalId == r.PrincipalId) : query;
        query = r.Tier.Length > 0 ? query.Where(c => c.Tier == r.Tier) : query;
        query = r.TaskType.Length > 0 ? query.Where(c => c.TaskType == r.TaskType) : query;
        var rows = await query.ToListAsync(cancellationToken);
        response.Grants = rows.Sum(c => c.Grants);
        response.ReducedGrants = rows.Sum(c => c.Reduced);
        response.Denials = rows.Sum(c => c.Denials);
        response.Granted.ReasoningTokens = rows.Sum(c => c.GrantedReasoningTokens);
        response.Granted.OutputTokens = rows.Sum(c => c.GrantedOutputTokens);
        response.Granted.InputTokens = rows.Sum(c => c.GrantedInputTokens);
        response.Granted.CostMicros = rows.Sum(c => c.GrantedCostMicros);
    }

    private static async Task AddSettlementsAsync(GovernanceDbContext db, GetUsageSummaryRequest r, DateTimeOffset start, DateTimeOffset end, GetUsageSummaryResponse response, CancellationToken cancellationToken)
    {
        var from = start.ToUnixTimeMilliseconds();
        var to = end.ToUnixTimeMilliseconds();
        var query = db.Settlements.AsNoTracking().Where(s => s.OrgId == r.OrgId && s.SettledAtMs >= from && s.SettledAtMs <= to);
        query = r.ProjectId.Length > 0 ? query.Where(s => s.ProjectId == r.ProjectId) : query;
        query = r.PrincipalId.Length > 0 ? query.Where(s => s.PrincipalId == r.PrincipalId) : query;
        query = r.Tier.Length > 0 ? query.Where(s => s.Tier == r.Tier) : query;
        query = r.TaskType.Length > 0 ? query.Where(s => s.TaskType == r.TaskType) : query;
        var groups = await query
            .GroupBy(s => s.Kind)
            .Select(g => new
            {
                Kind = g.Key,
                Count = g.LongCount(),
                Input = g.Sum(s => s.InputTokens),
                Cached = g.Sum(s => s.CachedInputTokens),
                CacheWrite = g.Sum(s => s.CacheWriteInputTokens),
                Output = g.Sum(s => s.OutputTokens),
                Reasoning = g.Sum(s => s.ReasoningTokens),
                Cost = g.Sum(s => s.CostMicros),
                Truncated = g.Sum(s => s.Truncated ? 1L : 0L),
                OverGrant = g.Sum(s => s.OverGrant ? 1L : 0L),
                Late = g.Sum(s => s.Late ? 1L : 0L),
            })
            .ToListAsync(cancellationToken);
        foreach (var g in groups)
        {
            if (g.Kind == (int)SettlementKind.Released)
            {
                response.Releases += g.Count;
                continue;
            }

            response.Reports += g.Count;
            response.Used.InputTokens += g.Input;
            response.Used.CachedInputTokens += g.Cached;
            response.Used.CacheWriteInputTokens += g.CacheWrite;
            response.Used.OutputTokens += g.Output;
            response.Used.ReasoningTokens += g.Reasoning;
            response.Used.CostMicros += g.Cost;
            response.Truncations += g.Truncated;
            response.OverGrantCalls += g.OverGrant;
            response.LateReports += g.Late;
        }
    }

    private async Task AddQuotasAsync(GovernanceDbContext db, GetUsageSummaryRequest r, OrgPolicy org, DateTimeOffset now, GetUsageSummaryResponse response, CancellationToken cancellationToken)
    {
        foreach (var quota in org.Quotas)
        {
            var filter = quota.Scope switch
            {
                DomainScope.Project => r.ProjectId,
                DomainScope.Principal => r.PrincipalId,
                _ => string.Empty,
            };
            if (filter.Length > 0 && quota.Subject.Length > 0 && quota.Subject != filter)
            {
                continue;
            }

            var window = WindowCalendar.StartOf(quota.Window, now);
            var windowStart = window.ToUnixTimeSeconds();
            var prefix = quota.Id + "|";
            var rows = await db.QuotaCounters.AsNoTracking()
                .Where(c => c.WindowStart == windowStart && (c.CounterKey == quota.Id || c.CounterKey.StartsWith(prefix)))
                .ToListAsync(cancellationToken);
            var used = rows.ToDictionary(c => c.CounterKey, c => c.Consumed, StringComparer.Ordinal);
            var replicaId = replica.Id;
            var nowMs = now.ToUnixTimeMilliseconds();
            var elsewhere = await db.CapacityLeases.AsNoTracking()
                .Where(l => l.WindowStart == windowStart && l.ReplicaId != replicaId && l.ExpiresAtMs > nowMs && (l.CounterKey == quota.Id || l.CounterKey.StartsWith(prefix)))
                .GroupBy(l => l.CounterKey)
                .Select(g => new { CounterKey = g.Key, Reserved = g.Sum(l => l.Reserved) })
                .ToDictionaryAsync(l => l.CounterKey, l => l.Reserved, StringComparer.Ordinal, cancellationToken);
            IEnumerable<string> subjects = quota.Scope == DomainScope.Org
                ? [string.Empty]
                : filter.Length > 0 ? [filter]
                : quota.Subject.Length > 0 ? [quota.Subject]
                : rows.Select(c => c.CounterKey[prefix.Length..]).Order(StringComparer.Ordinal);
            foreach (var subject in subjects)
            {
                var key = quota.CounterKey(subject);
                var consumed = used.GetValueOrDefault(key);
                var reserved = (ledger.Find(key, windowStart)?.Reserved ?? 0) + elsewhere.GetValueOrDefault(key);
                response.Quotas.Add(new QuotaUsage
                {
                    QuotaId = quota.Id,
                    Metric = (V1.QuotaMetric)(int)quota.Metric,
                    Window = (QuotaWindow)(int)quota.Window,
                    Scope = (V1.QuotaScope)(int)quota.Scope,
                    Subject = subject,
                    Limit = quota.Limit,
                    Used = consumed,
                    Reserved = reserved,
                    Remaining = Math.Max(0, quota.Limit - consumed - reserved),
                    WindowStart = Timestamp.FromDateTimeOffset(window),
                });
                switch (quota.Metric)
                {
                    case DomainMetric.ReasoningTokens:
                        response.Reserved.ReasoningTokens = Math.Max(response.Reserved.ReasoningTokens, reserved);
                        break;
                    case DomainMetric.OutputTokens:
                        response.Reserved.OutputTokens = Math.Max(response.Reserved.OutputTokens, reserved);
                        break;
                    case DomainMetric.CostMicros:
                        response.Reserved.CostMicros = Math.Max(response.Reserved.CostMicros, reserved);
                        break;
                }
            }
        }
    }
}
