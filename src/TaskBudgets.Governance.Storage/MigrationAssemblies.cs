namespace TaskBudgets.Governance.Storage;

/// <summary>
/// Each provider's migrations live in a project of their own (generated code, kept apart from
/// the code people write); the server references all three and EF finds them by these names.
/// </summary>
public static class MigrationAssemblies
{
    public const string Sqlite = "TaskBudgets.Governance.Migrations.Sqlite";

    public const string PostgreSql = "TaskBudgets.Governance.Migrations.PostgreSql";

    public const string SqlServer = "TaskBudgets.Governance.Migrations.SqlServer";
}
