using System.Data.Common;
using System.Globalization;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata;
using Microsoft.EntityFrameworkCore.Storage;

namespace TaskBudgets.Governance.Storage;

/// <summary>
/// The group commit on PostgreSQL as a few set-based statements over array parameters instead of
/// one statement a row, each of which the server would parse, plan and execute on its own. Each kind of row is first locked with <c>SELECT ... ORDER BY id FOR UPDATE</c>, so
/// rows are still taken in the one order every writer uses (byte order, <c>COLLATE "C"</c>, which is
/// the ordinal order the other writers sort by for the ASCII ids the service makes).
/// </summary>
internal sealed class PostgreSqlArrayStatements
{
    private readonly string insertSettlements;
    private readonly Column[] settlementColumns;
    private readonly string lockLeases;
    private readonly string debitLeases;
    private readonly string lockCounters;
    private readonly string addToCounters;

    private PostgreSqlArrayStatements(GovernanceDbContext db, ISqlGenerationHelper sql)
    {
        var settlements = LedgerSql.Table<Settlement>(db, sql, out var S);
        settlementColumns = db.Model.FindEntityType(typeof(Settlement))!.GetProperties().Select(p => new Column(
            S(p.Name),
            p.GetRelationalTypeMapping().StoreType,
            p.ClrType,
            p.GetGetter())).ToArray();
        var names = string.Join(", ", settlementColumns.Select(c => c.Name));
        var arrays = string.Join(", ", settlementColumns.Select((c, i) => $"@c{i}::{c.StoreType}[]"));
        insertSettlements = $"INSERT INTO {settlements} ({names}) SELECT * FROM unnest({arrays}) ON CONFLICT ({S("Id")}) DO NOTHING RETURNING {S("Id")}";

        var leases = LedgerSql.Table<CapacityLease>(db, sql, out var L);
        lockLeases = $"SELECT 1 FROM {leases} WHERE {L("Id")} = ANY(@ids) ORDER BY {L("Id")} COLLATE \"C\" FOR UPDATE";
        debitLeases =
            $"UPDATE {leases} AS l SET {L("DebitedByOwner")} = l.{L("DebitedByOwner")} + u.owner, {L("DebitedByOthers")} = l.{L("DebitedByOthers")} + u.others, " +
            $"{L("Held")} = GREATEST(l.{L("Held")} - u.unheld, 0), {L("Reserved")} = GREATEST(l.{L("Reserved")} - u.unheld, 0) " +
            $"FROM unnest(@ids::text[], @owner::bigint[], @others::bigint[], @unheld::bigint[]) AS u(id, owner, others, unheld) " +
            $"WHERE l.{L("Id")} = u.id AND l.{L("ExpiresAtMs")} > @now AND l.{L("Amount")} - l.{L("DebitedByOwner")} - l.{L("DebitedByOthers")} - l.{L("Reclaimed")} >= u.owner + u.others " +
            $"RETURNING l.{L("Id")}";

        var counters = LedgerSql.Table<QuotaCounter>(db, sql, out var C);
        lockCounters =
            $"SELECT 1 FROM {counters} AS c JOIN unnest(@keys::text[], @windows::bigint[]) AS u(k, w) ON c.{C("CounterKey")} = u.k AND c.{C("WindowStart")} = u.w " +
            $"ORDER BY c.{C("CounterKey")} COLLATE \"C\", c.{C("WindowStart")} FOR UPDATE OF c";
        addToCounters =
            $"UPDATE {counters} AS c SET {C("Consumed")} = c.{C("Consumed")} + u.consumed, {C("Leased")} = c.{C("Leased")} - u.leased " +
            $"FROM unnest(@keys::text[], @windows::bigint[], @consumed::bigint[], @leased::bigint[]) AS u(k, w, consumed, leased) " +
            $"WHERE c.{C("CounterKey")} = u.k AND c.{C("WindowStart")} = u.w " +
            $"RETURNING c.{C("CounterKey")}, c.{C("WindowStart")}";
    }

    public static PostgreSqlArrayStatements For(GovernanceDbContext db, ISqlGenerationHelper sql) => new(db, sql);

    /// <summary>Inserts the rows whose id is not taken; returns the ids it inserted.</summary>
    public async Task<IReadOnlySet<string>> InsertAsync(GovernanceDbContext db, IReadOnlyList<Settlement> rows)
    {
        await using var command = Command(db, insertSettlements);
        for (var c = 0; c < settlementColumns.Length; c++)
        {
            var values = Array.CreateInstance(settlementColumns[c].ClrType, rows.Count);
            for (var r = 0; r < rows.Count; r++)
            {
                values.SetValue(settlementColumns[c].Getter.GetClrValueUsingContainingEntity(rows[r]), r);
            }

            Add(command, "@c" + c.ToString(CultureInfo.InvariantCulture), values);
        }

        var inserted = new HashSet<string>(rows.Count, StringComparer.Ordinal);
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                inserted.Add(reader.GetString(0));
            }
        }

        return inserted;
    }

    /// <summary>Debits each lease its sum where it is alive and its balance covers it; true where it did.</summary>
    public async Task<bool[]> DebitLeasesAsync(GovernanceDbContext db, IReadOnlyList<LeaseDebits> leases, long nowMs)
    {
        var ids = leases.Select(l => l.LeaseId).ToArray();
        await using var batch = Batch(db);
        batch.BatchCommands.Add(BatchCommand(batch, lockLeases, ("@ids", ids)));
        batch.BatchCommands.Add(BatchCommand(
            batch,
            debitLeases,
            ("@ids", ids),
            ("@owner", leases.Select(l => l.ByOwner).ToArray()),
            ("@others", leases.Select(l => l.ByOthers).ToArray()),
            ("@unheld", leases.Select(l => l.LeavesHold).ToArray()),
            ("@now", nowMs)));
        var debited = new HashSet<string>(ids.Length, StringComparer.Ordinal);
        await using (var reader = await batch.ExecuteReaderAsync())
        {
            await reader.NextResultAsync();
            while (await reader.ReadAsync())
            {
                debited.Add(reader.GetString(0));
            }
        }

        return ids.Select(debited.Contains).ToArray();
    }

    /// <summary>Adds each counter's delta; true where the counter's row exists (the caller inserts the others).</summary>
    public async Task<bool[]> AddToCountersAsync(GovernanceDbContext db, IReadOnlyList<KeyValuePair<(string CounterKey, long WindowStart), CounterDelta>> counters)
    {
        var keys = counters.Select(c => c.Key.CounterKey).ToArray();
        var windows = counters.Select(c => c.Key.WindowStart).ToArray();
        await using var batch = Batch(db);
        batch.BatchCommands.Add(BatchCommand(batch, lockCounters, ("@keys", keys), ("@windows", windows)));
        batch.BatchCommands.Add(BatchCommand(
            batch,
            addToCounters,
            ("@keys", keys),
            ("@windows", windows),
            ("@consumed", counters.Select(c => c.Value.Consumed).ToArray()),
            ("@leased", counters.Select(c => c.Value.Leased).ToArray())));
        var found = new HashSet<(string, long)>();
        await using (var reader = await batch.ExecuteReaderAsync())
        {
            await reader.NextResultAsync();
            while (await reader.ReadAsync())
            {
                found.Add((reader.GetString(0), reader.GetInt64(1)));
            }
        }

        return counters.Select(c => found.Contains(c.Key)).ToArray();
    }

    private static DbTransaction Transaction(GovernanceDbContext db) =>
        db.Database.CurrentTransaction?.GetDbTransaction()
            ?? throw new InvalidOperationException("The group commit's statements run inside its transaction.");

    private static DbCommand Command(GovernanceDbContext db, string sql)
    {
        var command = db.Database.GetDbConnection().CreateCommand();
        command.Transaction = Transaction(db);
        command.CommandText = sql;
        return command;
    }

    private static DbBatch Batch(GovernanceDbContext db)
    {
        var batch = db.Database.GetDbConnection().CreateBatch();
        batch.Transaction = Transaction(db);
        return batch;
    }

    private static DbBatchCommand BatchCommand(DbBatch batch, string sql, params (string Name, object Value)[] args)
    {
        var command = batch.CreateBatchCommand();
        command.CommandText = sql;
        foreach (var (name, value) in args)
        {
            var parameter = command.CreateParameter();
            parameter.ParameterName = name;
            parameter.Value = value;
            command.Parameters.Add(parameter);
        }

        return command;
    }

    private static void Add(DbCommand command, string name, object value)
    {
        var parameter = command.CreateParameter();
        parameter.ParameterName = name;
        parameter.Value = value;
        command.Parameters.Add(parameter);
    }

    private sealed record Column(string Name, string StoreType, Type ClrType, IClrPropertyGetter Getter);
}
