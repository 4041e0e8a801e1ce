using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata;
using Microsoft.EntityFrameworkCore.Storage;

namespace TaskBudgets.Governance.Storage;

/// <summary>
/// A batch of settlements as one PostgreSQL statement: each column an array parameter, the rows
/// <c>unnest</c>ed from them in the given (id) order, <c>ON CONFLICT DO NOTHING</c>, and
/// <c>RETURNING</c> the ids it inserted. One statement is parsed, planned and executed once per
/// batch; a batch of ~100 single-row INSERTs was ~100 of each (25 ms of a 55 ms commit).
/// </summary>
internal sealed class SettlementColumns
{
    private readonly string sql;
    private readonly Column[] columns;

    private SettlementColumns(string sql, Column[] columns)
    {
        this.sql = sql;
        this.columns = columns;
    }

    public static SettlementColumns For(GovernanceDbContext db, ISqlGenerationHelper sql)
    {
        var entity = db.Model.FindEntityType(typeof(Settlement))!;
        var table = StoreObjectIdentifier.Table(entity.GetTableName()!, entity.GetSchema());
        var properties = entity.GetProperties().ToArray();
        var columns = properties.Select(p => new Column(
            sql.DelimitIdentifier(p.GetColumnName(table)!),
            p.GetRelationalTypeMapping().StoreType,
            p.ClrType,
            p.GetGetter())).ToArray();
        var id = sql.DelimitIdentifier(entity.FindProperty(nameof(Settlement.Id))!.GetColumnName(table)!);
        var names = string.Join(", ", columns.Select(c => c.Name));
        var arrays = string.Join(", ", columns.Select((c, i) => $"@c{i}::{c.StoreType}[]"));
        var text = $"INSERT INTO {sql.DelimitIdentifier(table.Name, table.Schema)} ({names}) SELECT * FROM unnest({arrays}) ON CONFLICT ({id}) DO NOTHING RETURNING {id}";
        return new SettlementColumns(text, columns);
    }

    /// <summary>Inserts the rows whose id is not taken; true where a row was inserted.</summary>
    public async Task<bool[]> InsertAsync(GovernanceDbContext db, IReadOnlyList<Settlement> rows)
    {
        var connection = db.Database.GetDbConnection();
        await using var command = connection.CreateCommand();
        command.Transaction = db.Database.CurrentTransaction?.GetDbTransaction()
            ?? throw new InvalidOperationException("The group commit's statements run inside its transaction.");
        command.CommandText = sql;
        for (var c = 0; c < columns.Length; c++)
        {
            var values = Array.CreateInstance(columns[c].ClrType, rows.Count);
            for (var r = 0; r < rows.Count; r++)
            {
                values.SetValue(columns[c].Getter.GetClrValueUsingContainingEntity(rows[r]), r);
            }

            var parameter = command.CreateParameter();
            parameter.ParameterName = "@c" + c.ToString(System.Globalization.CultureInfo.InvariantCulture);
            parameter.Value = values;
            command.Parameters.Add(parameter);
        }

        var inserted = new HashSet<string>(rows.Count, StringComparer.Ordinal);
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                inserted.Add(reader.GetString(0));
            }
        }

        var flags = new bool[rows.Count];
        for (var r = 0; r < rows.Count; r++)
        {
            flags[r] = inserted.Contains(rows[r].Id);
        }

        return flags;
    }

    private sealed record Column(string Name, string StoreType, Type ClrType, IClrPropertyGetter Getter);
}
