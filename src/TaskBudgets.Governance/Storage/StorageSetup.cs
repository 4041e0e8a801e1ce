using System.Data.Common;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
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
                services.AddPooledDbContextFactory<PostgreSqlGovernanceDbContext>(o => o.UseNpgsql(options.ConnectionString));
                services.AddSingleton<IDbContextFactory<GovernanceDbContext>, ProviderContextFactory<PostgreSqlGovernanceDbContext>>();
                break;
            case DatabaseProvider.SqlServer:
                services.AddPooledDbContextFactory<SqlServerGovernanceDbContext>(o => o.UseSqlServer(options.ConnectionString));
                services.AddSingleton<IDbContextFactory<GovernanceDbContext>, ProviderContextFactory<SqlServerGovernanceDbContext>>();
                break;
            default:
                var connectionString = options.ConnectionString ?? SqliteConnectionString(options.DataDirectory);
                services.AddPooledDbContextFactory<SqliteGovernanceDbContext>(o => o
                    .UseSqlite(connectionString)
                    .AddInterceptors(new SqliteDurability()));
                services.AddSingleton<IDbContextFactory<GovernanceDbContext>, ProviderContextFactory<SqliteGovernanceDbContext>>();
                break;
        }

        services.AddSingleton<SqliteWriteGate>();
        services.AddSingleton<ReportWriter>();
        services.AddHostedService(sp => sp.GetRequiredService<ReportWriter>());
        services.AddOptions<ReportWriterOptions>()
            .Bind(builder.Configuration.GetSection(ReportWriterOptions.Section))
            .ValidateDataAnnotations()
            .ValidateOnStart();
        return builder;
    }

    public static string SqliteConnectionString(string dataDirectory)
    {
        Directory.CreateDirectory(dataDirectory);
        return new SqliteConnectionStringBuilder
        {
            DataSource = Path.Combine(dataDirectory, "governance.db"),
            Pooling = true,
            DefaultTimeout = 30,
        }.ToString();
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
