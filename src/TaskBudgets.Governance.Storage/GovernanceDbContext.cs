using Microsoft.EntityFrameworkCore;

namespace TaskBudgets.Governance.Storage;

/// <summary>
/// The service's one DbContext. Each provider has a subclass only so that it has its own
/// migrations; code uses this type.
/// </summary>
public class GovernanceDbContext(DbContextOptions options) : DbContext(options)
{
    public DbSet<OrgRow> Orgs => Set<OrgRow>();

    public DbSet<TierRuleRow> TierRules => Set<TierRuleRow>();

    public DbSet<QuotaRow> Quotas => Set<QuotaRow>();

    public DbSet<ModelRow> Models => Set<ModelRow>();

    public DbSet<SettingRow> Settings => Set<SettingRow>();

    public DbSet<QuotaCounter> QuotaCounters => Set<QuotaCounter>();

    public DbSet<CapacityLease> CapacityLeases => Set<CapacityLease>();

    public DbSet<Settlement> Settlements => Set<Settlement>();

    public DbSet<GrantNotice> GrantNotices => Set<GrantNotice>();

    public DbSet<TaskBudgetRow> TaskBudgets => Set<TaskBudgetRow>();
    public DbSet<ApiKeyRow> ApiKeys => Set<ApiKeyRow>();

    public DbSet<AuditEventRow> AuditEvents => Set<AuditEventRow>();

    public DbSet<UsageCounterRow> UsageCounters => Set<UsageCounterRow>();

    public DbSet<CalibrationRow> Calibrations => Set<CalibrationRow>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        ArgumentNullException.ThrowIfNull(modelBuilder);
        const int Name = 128;
        const int Key = 400;

        modelBuilder.Entity<OrgRow>(e =>
        {
            e.ToTable("orgs");
            e.HasKey(o => o.Id);
            e.Property(o => o.Id).HasMaxLength(Name);
            e.Property(o => o.DisplayName).HasMaxLength(256);
            e.Property(o => o.Tier).HasMaxLength(Name);
            e.Property(o => o.Projects).HasMaxLength(8000);
        });
        modelBuilder.Entity<TierRuleRow>(e =>
        {
            e.ToTable("tier_rules");
            e.HasKey(r => new { r.Tier, r.TaskType });
            e.Property(r => r.Tier).HasMaxLength(Name);
            e.Property(r => r.TaskType).HasMaxLength(Name);
        });
        modelBuilder.Entity<QuotaRow>(e =>
        {
            e.ToTable("quotas");
            e.HasKey(q => q.Id);
            e.Property(q => q.Id).HasMaxLength(Key);
            e.Property(q => q.OrgId).HasMaxLength(Name);
            e.Property(q => q.Subject).HasMaxLength(Name);
            e.HasIndex(q => q.OrgId);
        });
        modelBuilder.Entity<ModelRow>(e =>
        {
            e.ToTable("models");
            e.HasKey(m => m.Name);
            e.Property(m => m.Name).HasMaxLength(Name);
        });
        modelBuilder.Entity<SettingRow>(e =>
        {
            e.ToTable("settings");
            e.HasKey(s => s.Key);
            e.Property(s => s.Key).HasMaxLength(Name);
            e.Property(s => s.Value).HasMaxLength(1024);
        });
        modelBuilder.Entity<QuotaCounter>(e =>
        {
            e.ToTable("quota_counters");
            e.HasKey(c => new { c.CounterKey, c.WindowStart });
            e.Property(c => c.CounterKey).HasMaxLength(Key);
        });
        modelBuilder.Entity<CapacityLease>(e =>
        {
            e.ToTable("capacity_leases");
            e.HasKey(l => l.Id);
            e.Property(l => l.Id).HasMaxLength(Key);
            e.Property(l => l.CounterKey).HasMaxLength(Key);
            e.Property(l => l.ReplicaId).HasMaxLength(64);
            e.HasIndex(l => l.ExpiresAtMs);
            e.HasIndex(l => new { l.CounterKey, l.WindowStart });
        });
        modelBuilder.Entity<GrantNotice>(e =>
        {
            e.ToTable("grant_notices");
            e.HasKey(n => new { n.IssuerReplicaId, n.GrantId });
            e.Property(n => n.IssuerReplicaId).HasMaxLength(64);
            e.Property(n => n.GrantId).HasMaxLength(64);
            e.HasIndex(n => n.ExpiresAtMs);
        });
        modelBuilder.Entity<TaskBudgetRow>(e =>
        {
            e.ToTable("task_budgets");
            e.HasKey(t => new { t.OrgId, t.TaskId });
            e.Property(t => t.OrgId).HasMaxLength(Name);
            e.Property(t => t.TaskId).HasMaxLength(Name);
        });
        modelBuilder.Entity<Settlement>(e =>
        {
            e.ToTable("settlements");
            e.HasKey(s => s.Id);
            e.Property(s => s.Id).HasMaxLength(Key);
            e.Property(s => s.OrgId).HasMaxLength(Name);
            e.Property(s => s.ProjectId).HasMaxLength(Name);
            e.Property(s => s.PrincipalId).HasMaxLength(Name);
            e.Property(s => s.TaskType).HasMaxLength(Name);
            e.Property(s => s.Model).HasMaxLength(Name);
            e.Property(s => s.Tier).HasMaxLength(Name);
            e.Property(s => s.QuotasJson).HasMaxLength(8000);
            e.HasIndex(s => new { s.OrgId, s.SettledAtMs });
        });
        modelBuilder.Entity<ApiKeyRow>(e =>
        {
            e.ToTable("api_keys");
            e.HasKey(k => k.Id);
            e.Property(k => k.Id).HasMaxLength(64);
            e.Property(k => k.Hash).HasMaxLength(64);
            e.Property(k => k.OrgId).HasMaxLength(Name);
            e.Property(k => k.Description).HasMaxLength(256);
            e.Property(k => k.CreatedBy).HasMaxLength(64);
            e.HasIndex(k => k.Hash).IsUnique();
            e.HasIndex(k => k.OrgId);
        });
        modelBuilder.Entity<AuditEventRow>(e =>
        {
            e.ToTable("audit_events");
            e.HasKey(a => a.Id);
            e.Property(a => a.Id).ValueGeneratedOnAdd();
            e.Property(a => a.Actor).HasMaxLength(64);
            e.Property(a => a.Action).HasMaxLength(64);
            e.Property(a => a.ResourceType).HasMaxLength(32);
            e.Property(a => a.ResourceId).HasMaxLength(Key);
            e.Property(a => a.OrgId).HasMaxLength(Name);
            e.HasIndex(a => new { a.OrgId, a.Id });
            e.HasIndex(a => a.AtMs);
        });
        modelBuilder.Entity<UsageCounterRow>(e =>
        {
            e.ToTable("usage_counters");
            e.HasKey(c => c.Id);
            e.Property(c => c.Id).HasMaxLength(64);
            e.Property(c => c.OrgId).HasMaxLength(Name);
            e.Property(c => c.ProjectId).HasMaxLength(Name);
            e.Property(c => c.PrincipalId).HasMaxLength(Name);
            e.Property(c => c.Tier).HasMaxLength(Name);
            e.Property(c => c.TaskType).HasMaxLength(Name);
            e.HasIndex(c => new { c.OrgId, c.HourStart });
        });
        modelBuilder.Entity<CalibrationRow>(e =>
        {
            e.ToTable("calibrations");
            e.HasKey(c => new { c.ReplicaId, c.Tier, c.TaskType, c.OrgId });
            e.Property(c => c.ReplicaId).HasMaxLength(64);
            e.Property(c => c.Tier).HasMaxLength(Name);
            e.Property(c => c.TaskType).HasMaxLength(Name);
            e.Property(c => c.OrgId).HasMaxLength(Name);
            e.HasIndex(c => c.UpdatedAtMs);
        });
    }
}

/// <summary>The SQLite flavour (embedded default); owns the SQLite migrations.</summary>
public sealed class SqliteGovernanceDbContext(DbContextOptions<SqliteGovernanceDbContext> options) : GovernanceDbContext(options);

/// <summary>The PostgreSQL flavour; owns the PostgreSQL migrations.</summary>
public sealed class PostgreSqlGovernanceDbContext(DbContextOptions<PostgreSqlGovernanceDbContext> options) : GovernanceDbContext(options);

/// <summary>The SQL Server flavour; owns the SQL Server migrations.</summary>
public sealed class SqlServerGovernanceDbContext(DbContextOptions<SqlServerGovernanceDbContext> options) : GovernanceDbContext(options);
