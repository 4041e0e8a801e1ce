using Microsoft.Data.SqlClient;
using Npgsql;

namespace TaskBudgets.Governance.Storage;

/// <summary>
/// The report writer's connection string: the operator's, with the application name marked, so the
/// driver keeps it in a pool of its own and the database shows which session is the group commit
/// (<c>pg_stat_activity.application_name</c>, <c>sys.dm_exec_sessions.program_name</c>).
/// </summary>
public static class ReportWriterConnectionString
{
    public const string Suffix = "report-writer";

    /// <summary>The service's name in the database's session list when the connection string gives none (as telemetry names it).</summary>
    public const string ApplicationName = "taskbudgets-governance";

    // SqlClient fills in its own name when none is given; that one is not the operator's.
    private static readonly string SqlClientDefaultApplication = new SqlConnectionStringBuilder().ApplicationName;

    public static string PostgreSql(string connectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        builder.ApplicationName = Mark(builder.ApplicationName);
        if (builder.MaxAutoPrepare == 0)
        {
            builder.MaxAutoPrepare = 16;
        }

        return builder.ConnectionString;
    }

    public static string SqlServer(string connectionString)
    {
        var builder = new SqlConnectionStringBuilder(connectionString);
        builder.ApplicationName = Mark(builder.ApplicationName == SqlClientDefaultApplication ? null : builder.ApplicationName);
        return builder.ConnectionString;
    }

    private static string Mark(string? application) =>
        $"{(string.IsNullOrWhiteSpace(application) ? ApplicationName : application)}/{Suffix}";
}
