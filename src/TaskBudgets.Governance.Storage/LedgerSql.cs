using System.Data.Common;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Metadata;
using Microsoft.EntityFrameworkCore.Storage;

namespace TaskBudgets.Governance.Storage;

/// <summary>
/// The hot path's writes as plain SQL, sent together: the group commit's summed updates and its
/// settlement inserts, the renewal pass's lease extensions, and the usage counters' flush. Rows are taken in the order given,
/// which is the one lock order every writer uses (<see cref="LockOrder"/>).
/// On PostgreSQL the group commit's rows go as set-based statements over arrays
/// (<see cref="PostgreSqlArrayStatements"/>); where the provider batches commands, the statements
/// of a kind go in one round trip; on SQLite (in process) they run one by one through SQLite's own API
/// (<see cref="SqliteStatements"/>). Table and column
/// names come from the EF model, quoted by the provider.
/// </summary>
internal sealed class LedgerSql
{
    // The usage counters' columns a flush adds to, with the parameter each is added from.
    private static readonly (string Property, Func<UsageCounterRow, object> Value)[] UsageCounts =
    [
        (nameof(UsageCounterRow.Grants), r => r.Grants),
        (nameof(UsageCounterRow.Reduced), r => r.Reduced),
        (nameof(UsageCounterRow.Denials), r => r.Denials),
        (nameof(UsageCounterRow.GrantedReasoningTokens), r => r.GrantedReasoningTokens),
        (nameof(UsageCounterRow.GrantedOutputTokens), r => r.GrantedOutputTokens),
        (nameof(UsageCounterRow.GrantedInputTokens), r => r.GrantedInputTokens),
        (nameof(UsageCounterRow.GrantedCostMicros), r => r.GrantedCostMicros),
    ];

    private readonly string debitLease;
    private readonly string addToCounter;
    private readonly string useTaskBudget;
    private readonly string extendLease;
    private readonly string declareLease;
    private readonly string createCounter;
    private readonly string insertSettlement;
    private readonly string addUsage;
    private readonly string[] settlementParameters;
    private readonly Func<Settlement, object>[] settlementValues;
    private readonly PostgreSqlArrayStatements? arrays;

    private LedgerSql(GovernanceDbContext db)
    {
        var sql = db.GetService<ISqlGenerationHelper>();
        var leases = Table<CapacityLease>(db, sql, out var lease);
        var counters = Table<QuotaCounter>(db, sql, out var counter);
        var tasks = Table<TaskBudgetRow>(db, sql, out var task);
        string L(string property) => lease(property);
        string C(string property) => counter(property);
        string T(string property) => task(property);

        debitLease =
            $"UPDATE {leases} SET {L("DebitedByOwner")} = {L("DebitedByOwner")} + @owner, {L("DebitedByOthers")} = {L("DebitedByOthers")} + @others, " +
            $"{L("Held")} = CASE WHEN {L("Held")} > @unheld THEN {L("Held")} - @unheld ELSE 0 END, " +
            $"{L("Reserved")} = CASE WHEN {L("Reserved")} > @unheld THEN {L("Reserved")} - @unheld ELSE 0 END " +
            $"WHERE {L("Id")} = @id AND {L("ExpiresAtMs")} > @now AND {L("Amount")} - {L("DebitedByOwner")} - {L("DebitedByOthers")} - {L("Reclaimed")} >= @owner + @others";
        addToCounter =
            $"UPDATE {counters} SET {C("Consumed")} = {C("Consumed")} + @consumed, {C("Leased")} = {C("Leased")} - @leased " +
            $"WHERE {C("CounterKey")} = @key AND {C("WindowStart")} = @window";
        extendLease = $"UPDATE {leases} SET {L("ExpiresAtMs")} = @expires, {L("RenewedAtMs")} = @now WHERE {L("Id")} = @id AND {L("ExpiresAtMs")} > @now";
        declareLease =
            $"UPDATE {leases} SET {L("ExpiresAtMs")} = @expires, {L("RenewedAtMs")} = @now, {L("Held")} = @held, {L("Reserved")} = @reserved " +
            $"WHERE {L("Id")} = @id AND {L("ExpiresAtMs")} > @now AND {L("Amount")} - {L("DebitedByOwner")} - {L("DebitedByOthers")} - {L("Reclaimed")} >= @held";
        createCounter = db.Database.IsSqlServer()
            ? $"INSERT INTO {counters} ({C("CounterKey")}, {C("WindowStart")}, {C("Consumed")}, {C("Leased")}) SELECT {{0}}, {{1}}, 0, 0 " +
              $"WHERE NOT EXISTS (SELECT 1 FROM {counters} WITH (UPDLOCK, HOLDLOCK) WHERE {C("CounterKey")} = {{0}} AND {C("WindowStart")} = {{1}})"
            : $"INSERT INTO {counters} ({C("CounterKey")}, {C("WindowStart")}, {C("Consumed")}, {C("Leased")}) VALUES ({{0}}, {{1}}, 0, 0) " +
              $"ON CONFLICT ({C("CounterKey")}, {C("WindowStart")}) DO NOTHING";
        useTaskBudget = $"UPDATE {tasks} SET {T("Used")} = {T("Used")} + @used WHERE {T("OrgId")} = @org AND {T("TaskId")} = @task";
        (insertSettlement, settlementParameters, settlementValues) = InsertOnce(db, sql);
        var usage = Table<UsageCounterRow>(db, sql, out var usageColumn);
        string Add(string property) => $"{usageColumn(property)} = {usageColumn(property)} + @{property}";
        addUsage =
            $"UPDATE {usage} SET {string.Join(", ", UsageCounts.Select(c => Add(c.Property)))} WHERE {usageColumn(nameof(UsageCounterRow.Id))} = @Id";
        arrays = db.Database.IsNpgsql() ? PostgreSqlArrayStatements.For(db, sql) : null;
    }

    /// <summary>The statements for this context's provider (the model is the same for every context of one provider).</summary>
    public static LedgerSql For(GovernanceDbContext db) => new(db);

    /// <summary>Debits each lease its sum, if it is alive and its balance covers it; true where it did.</summary>
    public async Task<bool[]> DebitLeasesAsync(GovernanceDbContext db, IReadOnlyList<LeaseDebits> leases, long nowMs)
    {
        if (arrays is not null && leases.Count > 1)
        {
            return await arrays.DebitLeasesAsync(db, leases, nowMs);
        }

        var statements = new List<Statement>(leases.Count);
        foreach (var lease in leases)
        {
            statements.Add(new Statement(debitLease, [("@owner", lease.ByOwner), ("@others", lease.ByOthers), ("@unheld", lease.LeavesHold), ("@id", lease.LeaseId), ("@now", nowMs)]));
        }

        var affected = await ExecuteAsync(db, statements);
        return Array.ConvertAll(affected, a => a == 1);
    }

    /// <summary>
    /// Inserts each settlement unless a row with its id is already stored (committed, or earlier in
    /// this transaction); returns the ids it inserted. Give the rows in id order: the lock order.
    /// </summary>
    public async Task<IReadOnlySet<string>> InsertAsync(GovernanceDbContext db, IReadOnlyList<Settlement> rows)
    {
        if (arrays is not null && rows.Count > 1)
        {
            return await arrays.InsertAsync(db, rows);
        }

        var statements = new List<Statement>(rows.Count);
        foreach (var row in rows)
        {
            var args = new (string, object)[settlementParameters.Length];
            for (var p = 0; p < args.Length; p++)
            {
                args[p] = (settlementParameters[p], settlementValues[p](row));
            }

            statements.Add(new Statement(insertSettlement, args));
        }

        var affected = await ExecuteAsync(db, statements);
        var inserted = new HashSet<string>(rows.Count, StringComparer.Ordinal);
        for (var r = 0; r < rows.Count; r++)
        {
            if (affected[r] == 1)
            {
                inserted.Add(rows[r].Id);
            }
        }

        return inserted;
    }

    /// <summary>
    /// Renews each live lease to <paramref name="expiresAtMs"/> and declares its hold where its
    /// balance covers it. Give the rows sorted by id: the lock order. Each lease's two statements
    /// (declare, then renew, which repeats the expiry a successful declaration already set) run
    /// one after the other, so the leases are still taken in that order: a second pass over the
    /// leases whose declaration was refused took them after later ones, against the group commit's
    /// order, and PostgreSQL found the deadlock.
    /// </summary>
    /// <returns>Per lease, whether it was live (renewed), and whether its hold was declared.</returns>
    public async Task<(bool[] Renewed, bool[] Declared)> RenewLeasesAsync(GovernanceDbContext db, IReadOnlyList<LeaseRenewalRow> leases, long expiresAtMs, long nowMs)
    {
        var statements = new List<Statement>(2 * leases.Count);
        foreach (var lease in leases)
        {
            statements.Add(new Statement(declareLease, [("@expires", expiresAtMs), ("@now", nowMs), ("@held", lease.Held), ("@reserved", lease.Reserved), ("@id", lease.Id)]));
            statements.Add(new Statement(extendLease, [("@expires", expiresAtMs), ("@id", lease.Id), ("@now", nowMs)]));
        }

        var affected = await ExecuteAsync(db, statements);
        var declared = new bool[leases.Count];
        var renewed = new bool[leases.Count];
        for (var i = 0; i < leases.Count; i++)
        {
            declared[i] = affected[2 * i] == 1;
            renewed[i] = declared[i] || affected[(2 * i) + 1] == 1;
        }

        return (renewed, declared);
    }

    /// <summary>Creates a window's counter at zero unless it exists: two replicas opening a window at once is no error.</summary>
    public async Task CreateCounterAsync(GovernanceDbContext db, string counterKey, long windowStart, CancellationToken cancellationToken) =>
        await db.Database.ExecuteSqlRawAsync(createCounter, [counterKey, windowStart], cancellationToken);

    /// <summary>Debits one lease one amount (the fallback for a lease that cannot take its sum).</summary>
    public async Task<bool> DebitLeaseAsync(GovernanceDbContext db, QuotaDebit debit, long nowMs)
    {
        var owner = debit.ByOwner ? debit.Amount : 0;
        var others = debit.ByOwner ? 0 : debit.Amount;
        var affected = await ExecuteAsync(db, [new Statement(debitLease, [("@owner", owner), ("@others", others), ("@unheld", debit.LeavesHold), ("@id", debit.LeaseId!), ("@now", nowMs)])]);
        return affected[0] == 1;
    }

    /// <summary>
    /// Adds each counter's delta, then each loop's task-budget use, in that order. Returns, per
    /// counter, whether its row existed (a missing one is inserted by the caller).
    /// </summary>
    public async Task<bool[]> AddAsync(
        GovernanceDbContext db,
        IReadOnlyList<KeyValuePair<(string CounterKey, long WindowStart), CounterDelta>> counters,
        IReadOnlyDictionary<(string OrgId, string TaskId), long> taskUses)
    {
        var counted = arrays is not null && counters.Count > 1 ? await arrays.AddToCountersAsync(db, counters) : null;
        var statements = new List<Statement>(counters.Count + taskUses.Count);
        if (counted is null)
        {
            foreach (var ((key, window), delta) in counters)
            {
                statements.Add(new Statement(addToCounter, [("@consumed", delta.Consumed), ("@leased", delta.Leased), ("@key", key), ("@window", window)]));
            }
        }

        foreach (var ((org, task), used) in taskUses)
        {
            statements.Add(new Statement(useTaskBudget, [("@used", used), ("@org", org), ("@task", task)]));
        }

        var affected = await ExecuteAsync(db, statements);
        if (counted is not null)
        {
            return counted;
        }

        var found = new bool[counters.Count];
        for (var i = 0; i < found.Length; i++)
        {
            found[i] = affected[i] > 0;
        }

        return found;
    }

    /// <summary>
    /// Adds each row's counts to the stored row with its id, all in one round trip where the provider
    /// batches; true where the row existed (a missing one is inserted by the caller). Give the rows
    /// in id order: the lock order of every replica's flush.
    /// </summary>
    public async Task<bool[]> AddUsageAsync(GovernanceDbContext db, IReadOnlyList<UsageCounterRow> rows)
    {
        var statements = new List<Statement>(rows.Count);
        foreach (var row in rows)
        {
            var args = new (string, object)[UsageCounts.Length + 1];
            for (var c = 0; c < UsageCounts.Length; c++)
            {
                args[c] = ("@" + UsageCounts[c].Property, UsageCounts[c].Value(row));
            }

            args[^1] = ("@Id", row.Id);
            statements.Add(new Statement(addUsage, args));
        }

        var affected = await ExecuteAsync(db, statements);
        return Array.ConvertAll(affected, a => a == 1);
    }

    private static async Task<int[]> ExecuteAsync(GovernanceDbContext db, List<Statement> statements)
    {
        var affected = new int[statements.Count];
        if (statements.Count == 0)
        {
            return affected;
        }

        var connection = db.Database.GetDbConnection();
        var transaction = db.Database.CurrentTransaction?.GetDbTransaction()
            ?? throw new InvalidOperationException("The group commit's statements run inside its transaction.");
        if (connection is SqliteConnection sqlite)
        {
            // In process, no round trips to save: each statement runs on its own, through SQLite's API.
            return SqliteStatements.Run(sqlite, statements);
        }

        await using var batch = connection.CreateBatch();
        batch.Transaction = transaction;
        foreach (var statement in statements)
        {
            var command = batch.CreateBatchCommand();
            command.CommandText = statement.Sql;
            foreach (var (name, value) in statement.Args)
            {
                var parameter = command.CreateParameter();
                parameter.ParameterName = name;
                parameter.Value = value;
                command.Parameters.Add(parameter);
            }

            batch.BatchCommands.Add(command);
        }

        await batch.ExecuteNonQueryAsync();
        for (var i = 0; i < affected.Length; i++)
        {
            affected[i] = batch.BatchCommands[i].RecordsAffected;
        }

        return affected;
    }

    /// <summary>
    /// The settlement INSERT that does nothing when the id is taken, with its columns from the
    /// model: ON CONFLICT DO NOTHING where the database has it, NOT EXISTS under an update lock on
    /// SQL Server (which has no ON CONFLICT). Either way a second writer of the same id waits for the
    /// first and inserts nothing, instead of failing its whole batch.
    /// </summary>
    private static (string Sql, string[] Parameters, Func<Settlement, object>[] Values) InsertOnce(GovernanceDbContext db, ISqlGenerationHelper sql)
    {
        var table = Table<Settlement>(db, sql, out var column);
        var entity = db.Model.FindEntityType(typeof(Settlement))!;
        var properties = entity.GetProperties().ToArray();
        var columns = string.Join(", ", properties.Select(p => column(p.Name)));
        var parameters = properties.Select((_, i) => "@s" + i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        var values = properties.Select(p =>
        {
            var getter = p.GetGetter();
            return (Func<Settlement, object>)(row => getter.GetClrValueUsingContainingEntity(row) ?? DBNull.Value);
        }).ToArray();
        var id = column(nameof(Settlement.Id));
        var idParameter = parameters[Array.FindIndex(properties, p => p.Name == nameof(Settlement.Id))];
        var text = db.Database.IsSqlServer()
            ? $"INSERT INTO {table} ({columns}) SELECT {string.Join(", ", parameters)} WHERE NOT EXISTS (SELECT 1 FROM {table} WITH (UPDLOCK, HOLDLOCK) WHERE {id} = {idParameter})"
            : $"INSERT INTO {table} ({columns}) VALUES ({string.Join(", ", parameters)}) ON CONFLICT ({id}) DO NOTHING";
        return (text, parameters, values);
    }

    /// <summary>The row type's table and a function from its property names to their columns, both quoted.</summary>
    internal static string Table<TRow>(GovernanceDbContext db, ISqlGenerationHelper sql, out Func<string, string> column)
    {
        var entity = db.Model.FindEntityType(typeof(TRow)) ?? throw new InvalidOperationException($"{typeof(TRow).Name} is not in the model.");
        var table = StoreObjectIdentifier.Table(entity.GetTableName()!, entity.GetSchema());
        column = property => sql.DelimitIdentifier(entity.FindProperty(property)!.GetColumnName(table)!);
        return sql.DelimitIdentifier(table.Name, table.Schema);
    }

    /// <summary>One statement and its parameters' names and values.</summary>
    internal sealed record Statement(string Sql, (string Name, object Value)[] Args);
}

/// <summary>A lease to renew, and the hold its owner declares: all it may still claim, and what its live grants reserve.</summary>
public readonly record struct LeaseRenewalRow(string Id, long Held, long Reserved);
