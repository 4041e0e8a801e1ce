using Mono.Cecil;
using Mono.Cecil.Cil;

namespace TaskBudgets.Governance.Tests.Architecture;

/// <summary>
/// Storage is the only writer: no code of the server outside it saves, updates, deletes, opens a
/// transaction or runs SQL, so the lock order and the SQLite write gate are decided in one place.
/// </summary>
public sealed class WriteOwnershipTests
{
    private static readonly HashSet<string> WritingMethods = new(StringComparer.Ordinal)
    {
        "SaveChanges", "SaveChangesAsync", "ExecuteUpdate", "ExecuteUpdateAsync", "ExecuteDelete", "ExecuteDeleteAsync",
        "BeginTransaction", "BeginTransactionAsync", "ExecuteSqlRaw", "ExecuteSqlRawAsync", "ExecuteSql", "ExecuteSqlAsync",
        "ExecuteSqlInterpolated", "ExecuteSqlInterpolatedAsync", "ExecuteNonQuery", "ExecuteNonQueryAsync",
    };

    private static readonly HashSet<string> TrackingMethods = new(StringComparer.Ordinal) { "Add", "AddRange", "Remove", "RemoveRange", "Update", "UpdateRange", "Attach" };

    [Fact]
    public void No_code_outside_storage_writes_to_the_database()
    {
        var writers = WritersIn(typeof(Program).Assembly.Location);
        Assert.True(writers.Count == 0, $"these write outside Storage: {string.Join(", ", writers)}");
    }

    [Fact]
    public void The_check_finds_the_writers_storage_has()
    {
        // Guards the check above against passing on nothing: Storage's writers are found.
        var writers = WritersIn(typeof(Storage.GovernanceDbContext).Assembly.Location);
        Assert.Contains("TaskBudgets.Governance.Storage.ReportWriter", writers);
        Assert.Contains("TaskBudgets.Governance.Storage.CalibrationRows", writers);
    }

    private static SortedSet<string> WritersIn(string assemblyPath)
    {
        using var module = ModuleDefinition.ReadModule(assemblyPath);
        var writers = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var type in module.GetTypes())
        {
            foreach (var method in type.Methods.Where(m => m.HasBody))
            {
                if (method.Body.Instructions.Any(Writes))
                {
                    writers.Add(Outermost(type).FullName);
                }
            }
        }

        return writers;
    }

    private static bool Writes(Instruction instruction)
    {
        if (instruction.OpCode.Code is not (Code.Call or Code.Callvirt or Code.Ldftn) || instruction.Operand is not MethodReference called)
        {
            return false;
        }

        var declaring = called.DeclaringType;
        var fromEf = declaring.Namespace.StartsWith("Microsoft.EntityFrameworkCore", StringComparison.Ordinal)
            || declaring.Namespace.StartsWith("System.Data", StringComparison.Ordinal)
            || declaring.Namespace.StartsWith("Npgsql", StringComparison.Ordinal)
            || declaring.Namespace.StartsWith("Microsoft.Data", StringComparison.Ordinal);
        return (fromEf && WritingMethods.Contains(called.Name))
            || (fromEf && declaring.Name is "DbSet`1" or "DbContext" && TrackingMethods.Contains(called.Name))
            || declaring.Namespace == "TaskBudgets.Governance.Storage" && declaring.Name == "LedgerSql";
    }

    private static TypeDefinition Outermost(TypeDefinition type)
    {
        while (type.DeclaringType is not null)
        {
            type = type.DeclaringType;
        }

        return type;
    }
}
