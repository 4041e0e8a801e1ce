using System.ComponentModel.DataAnnotations;

namespace TaskBudgets.Governance.Storage;

/// <summary>Which database holds the service's state. Bound from the "Storage" section.</summary>
public sealed class StorageOptions
{
    public const string Section = "Storage";

    /// <summary>Sqlite (default, embedded), PostgreSql or SqlServer.</summary>
    public DatabaseProvider Provider { get; set; } = DatabaseProvider.Sqlite;

    /// <summary>
    /// Connection string. Default: the "Governance" connection string; for SQLite with neither,
    /// a governance.db file in <see cref="DataDirectory"/>.
    /// </summary>
    public string? ConnectionString { get; set; }

    /// <summary>Where the embedded database lives. Default "data" under the working directory.</summary>
    [Required]
    public string DataDirectory { get; set; } = "data";

    /// <summary>Apply pending migrations at start-up. Default true; the "migrate" command applies them and exits.</summary>
    public bool MigrateOnStart { get; set; } = true;
}

public enum DatabaseProvider
{
    Sqlite = 1,
    PostgreSql = 2,
    SqlServer = 3,
}
