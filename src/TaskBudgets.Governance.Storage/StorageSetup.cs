using System.Data.Common;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.Extensions.Options;

namespace TaskBudgets.Governance.Storage;

/// <summary>Composes storage: the provider, its DbContext factory, the group-commit writer.</summary>
public static class StorageSetup
{
    public static IHostApplicationBuilder AddGovernanceStorage(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var section = builder.Configuration.GetSection(StorageOptions.Section);
        builder.Services.AddOptions<StorageOptions>()
            .Bind(section)
            .PostConfigure(o => o.ConnectionString ??= builder.Configuration.GetConnectionString("Governance"))
            .Validate(o => o.Provider == DatabaseProvider.Sqlite || !string.IsNullOrWhiteSpace(o.ConnectionString),
                "Storage: PostgreSql and SqlServer need a connection string (ConnectionStrings:Governance or Storage:ConnectionString).")
            .Validate(o => Enum.IsDefined(o.Provider), "Storage:Provider must be Sqlite, PostgreSql or SqlServer.")
            .ValidateDataAnnotations()
            .ValidateOnStart();

        // The provider decides which DbContext type (and so which migrations) is registered.
        var options = section.Get<StorageOptions>() ?? new StorageOptions();
        options.ConnectionString ??= builder.Configuration.GetConnectionString("Governance");
        var services = builder.Services;
        switch (options.Provider)
        {
            case DatabaseProvider.PostgreSql:
                AddContexts<PostgreSqlGovernanceDbContext>(services, (o, cs) => o.UseNpgsql(cs, x => x.MigrationsAssembly(MigrationAssemblies.PostgreSql)), options.ConnectionString!, ReportWriterConnectionString.PostgreSql(options.ConnectionString!));
                break;
            case DatabaseProvider.SqlServer:
                AddContexts<SqlServerGovernanceDbContext>(services, (o, cs) => o.UseSqlServer(cs, x => x.MigrationsAssembly(MigrationAssemblies.SqlServer)), options.ConnectionString!, ReportWriterConnectionString.SqlServer(options.ConnectionString!));
                break;
            default:
                // One file and one writer at a time: the writer shares the pool.
                var connectionString = options.ConnectionString ?? SqliteConnectionString(options.DataDirectory);
                AddContexts<SqliteGovernanceDbContext>(services, (o, cs) => o.UseSqlite(cs, x => x.MigrationsAssembly(MigrationAssemblies.Sqlite)).AddInterceptors(new SqliteDurability()), connectionString, writerConnectionString: null);
                break;
        }

        services.AddSingleton<SqliteWriteGate>();
        services.AddSingleton<ControlPlaneWriter>();
        services.AddSingleton<TaskBudgetRows>();
        services.AddSingleton<UsageCounterRows>();
        services.AddSingleton<CalibrationRows>();
        services.AddSingleton<LeaseRows>();
        services.AddSingleton<StorageOutage>();
        services.AddSingleton<StorageMetrics>();
        services.AddSingleton<ReportWriter>();
        services.AddHostedService(sp => sp.GetRequiredService<ReportWriter>());
        services.AddOptions<ReportWriterOptions>()
            .Bind(builder.Configuration.GetSection(ReportWriterOptions.Section))
            .ValidateDataAnnotations()
            .ValidateOnStart();
        return builder;
    }

    /// <summary>The SQLite database's file name in the data directory.</summary>
    public const string SqliteFileName = "governance.db";

    private const UnixFileMode OwnerOnlyFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode OwnerOnlyDirectory = OwnerOnlyFile | UnixFileMode.UserExecute;

    /// <summary>
    /// Creates the data directory when it is missing, readable by its owner only (0700). One that
    /// exists is left as it is: it may be a mounted volume whose mode the deployment decides.
    /// </summary>
    public static void CreateDataDirectory(string dataDirectory)
    {
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(dataDirectory);
        }
        else
        {
            Directory.CreateDirectory(dataDirectory, OwnerOnlyDirectory);
        }
    }

    /// <summary>
    /// The connection string of the SQLite file in <paramref name="dataDirectory"/>, with the
    /// directory created (0700) and the file created or narrowed to 0600 before SQLite opens it:
    /// SQLite gives the -wal and -shm files it creates the database file's mode, so they are 0600 too.
    /// </summary>
    public static string SqliteConnectionString(string dataDirectory)
    {
        CreateDataDirectory(dataDirectory);
        var path = Path.Combine(dataDirectory, SqliteFileName);
        if (!OperatingSystem.IsWindows())
        {
            OwnerOnly(path, create: true);
            OwnerOnly(path + "-wal", create: false);
            OwnerOnly(path + "-shm", create: false);
        }

        return new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Pooling = true,
            DefaultTimeout = 30,
        }.ToString();
    }

    // A file made owner-only: narrowed when a server before this one made it readable by others,
    // and the database created here when missing (or left empty by a start that died), as an empty
    // database in WAL mode. SQLite does not take an empty file for a database when EF opens it read-only.
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    private static void OwnerOnly(string path, bool create)
    {
        if (create && (!File.Exists(path) || new FileInfo(path).Length == 0))
        {
            using (new FileStream(path, new FileStreamOptions { Mode = FileMode.OpenOrCreate, Access = FileAccess.Write, UnixCreateMode = OwnerOnlyFile }))
            {
            }

            File.SetUnixFileMode(path, OwnerOnlyFile);
            using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "PRAGMA journal_mode=WAL;";
            command.ExecuteNonQuery();
        }

        if (File.Exists(path) && (File.GetUnixFileMode(path) & ~OwnerOnlyFile) != 0)
        {
            File.SetUnixFileMode(path, File.GetUnixFileMode(path) & OwnerOnlyFile);
        }
    }

    /// <summary>
    /// Registers the provider's context factory, and the report writer's. On a database server the
    /// writer gets a connection string of its own, so a pool of its own: its one connection at a time
    /// is the same server process commit after commit. From the shared pool (first in, first out)
    /// each commit went to another of up to a hundred idle server processes, each with cold caches,
    /// and PostgreSQL spent about a quarter more CPU a report.
    /// </summary>
    private static void AddContexts<TContext>(
        IServiceCollection services,
        Action<DbContextOptionsBuilder, string> configure,
        string connectionString,
        string? writerConnectionString)
        where TContext : GovernanceDbContext
    {
        services.AddPooledDbContextFactory<TContext>(o => Quiet(configure, o, connectionString));
        services.AddSingleton<IDbContextFactory<GovernanceDbContext>, ProviderContextFactory<TContext>>();
        if (writerConnectionString is null)
        {
            services.AddKeyedSingleton(ReportWriter.Contexts, (sp, _) => sp.GetRequiredService<IDbContextFactory<GovernanceDbContext>>());
            return;
        }

        services.AddKeyedSingleton<IDbContextFactory<GovernanceDbContext>>(ReportWriter.Contexts, (sp, _) =>
        {
            var builder = new DbContextOptionsBuilder<TContext>()
                .UseApplicationServiceProvider(sp)
                .UseLoggerFactory(sp.GetRequiredService<ILoggerFactory>());
            Quiet(configure, builder, writerConnectionString);
            return new ProviderContextFactory<TContext>(new PooledDbContextFactory<TContext>(builder.Options));
        });
    }

    /// <summary>
    /// Configures the provider, with EF's own logs of a failed command, connection, transaction,
    /// save or query at Debug instead of Error. Our code sees each of those failures and says what
    /// it means: a race it handles (two replicas creating the same row, the migrations history
    /// looked for on an empty database) says nothing, an outage one line (StorageOutage), anything
    /// else an error. EF's Error for each, with the statement, made a ten-second outage hundreds of lines.
    /// </summary>
    private static void Quiet(Action<DbContextOptionsBuilder, string> configure, DbContextOptionsBuilder options, string connectionString)
    {
        configure(options, connectionString);
        options.ConfigureWarnings(w => w.Log(
            (RelationalEventId.CommandError, LogLevel.Debug),
            (RelationalEventId.ConnectionError, LogLevel.Debug),
            (RelationalEventId.TransactionError, LogLevel.Debug),
            (CoreEventId.SaveChangesFailed, LogLevel.Debug),
            (CoreEventId.QueryIterationFailed, LogLevel.Debug)));
    }

    /// <summary>Hands out the provider's context as the one type the code uses.</summary>
    private sealed class ProviderContextFactory<TContext>(IDbContextFactory<TContext> inner) : IDbContextFactory<GovernanceDbContext>
        where TContext : GovernanceDbContext
    {
        public GovernanceDbContext CreateDbContext() => inner.CreateDbContext();
    }

    /// <summary>
    /// WAL lets readers run beside the writer; synchronous=FULL makes a committed report survive
    /// a crash of the machine, not only of the process; busy_timeout waits out other writers.
    /// </summary>
    private sealed class SqliteDurability : DbConnectionInterceptor
    {
        public override void ConnectionOpened(DbConnection connection, ConnectionEndEventData eventData) => Apply(connection);

        public override Task ConnectionOpenedAsync(DbConnection connection, ConnectionEndEventData eventData, CancellationToken cancellationToken = default)
        {
            Apply(connection);
            return Task.CompletedTask;
        }

        private static void Apply(DbConnection connection)
        {
            using var command = connection.CreateCommand();
            command.CommandText = "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=30000;";
            command.ExecuteNonQuery();
        }
    }
}
