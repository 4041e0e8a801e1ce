using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace TaskBudgets.Governance.Storage;

// Used only by `dotnet ef` to generate each provider's migrations; no database is contacted.

internal sealed class SqliteDesignTimeFactory : IDesignTimeDbContextFactory<SqliteGovernanceDbContext>
{
    public SqliteGovernanceDbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<SqliteGovernanceDbContext>().UseSqlite("Data Source=design-time.db", x => x.MigrationsAssembly(MigrationAssemblies.Sqlite)).Options);
}

internal sealed class PostgreSqlDesignTimeFactory : IDesignTimeDbContextFactory<PostgreSqlGovernanceDbContext>
{
    public PostgreSqlGovernanceDbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<PostgreSqlGovernanceDbContext>().UseNpgsql("Host=localhost;Database=design_time", x => x.MigrationsAssembly(MigrationAssemblies.PostgreSql)).Options);
}

internal sealed class SqlServerDesignTimeFactory : IDesignTimeDbContextFactory<SqlServerGovernanceDbContext>
{
    public SqlServerGovernanceDbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<SqlServerGovernanceDbContext>().UseSqlServer("Server=localhost;Database=design_time;TrustServerCertificate=true", x => x.MigrationsAssembly(MigrationAssemblies.SqlServer)).Options);
}
