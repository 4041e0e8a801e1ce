using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace TaskBudgets.Governance.Storage.Migrations.PostgreSql
{
    /// <inheritdoc />
    public partial class Initial : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "capacity_leases",
                columns: table => new
                {
                    Id = table.Column<string>(type: "character varying(400)", maxLength: 400, nullable: false),
                    CounterKey = table.Column<string>(type: "character varying(400)", maxLength: 400, nullable: false),
                    WindowStart = table.Column<long>(type: "bigint", nullable: false),
                    ReplicaId = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    Amount = table.Column<long>(type: "bigint", nullable: false),
                    DebitedByOwner = table.Column<long>(type: "bigint", nullable: false),
                    DebitedByOthers = table.Column<long>(type: "bigint", nullable: false),
                    ExpiresAtMs = table.Column<long>(type: "bigint", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_capacity_leases", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "models",
                columns: table => new
                {
                    Name = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: false),
                    Family = table.Column<int>(type: "integer", nullable: false),
                    Thinking = table.Column<int>(type: "integer", nullable: false),
                    MinThinkingTokens = table.Column<long>(type: "bigint", nullable: false),
                    MaxThinkingTokens = table.Column<long>(type: "bigint", nullable: false),
                    InputMicrosPerMillion = table.Column<long>(type: "bigint", nullable: false),
                    CachedInputMicrosPerMillion = table.Column<long>(type: "bigint", nullable: false),
                    CacheWriteMicrosPerMillion = table.Column<long>(type: "bigint", nullable: false),
                    OutputMicrosPerMillion = table.Column<long>(type: "bigint", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_models", x => x.Name);
                });

            migrationBuilder.CreateTable(
                name: "orgs",
                columns: table => new
                {
                    Id = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: false),
                    DisplayName = table.Column<string>(type: "character varying(256)", maxLength: 256, nullable: false),
                    Tier = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_orgs", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "quota_counters",
                columns: table => new
                {
                    CounterKey = table.Column<string>(type: "character varying(400)", maxLength: 400, nullable: false),
                    WindowStart = table.Column<long>(type: "bigint", nullable: false),
                    Consumed = table.Column<long>(type: "bigint", nullable: false),
                    Leased = table.Column<long>(type: "bigint", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_quota_counters", x => new { x.CounterKey, x.WindowStart });
                });

            migrationBuilder.CreateTable(
                name: "quotas",
                columns: table => new
                {
                    Id = table.Column<string>(type: "character varying(400)", maxLength: 400, nullable: false),
                    OrgId = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: false),
                    Scope = table.Column<int>(type: "integer", nullable: false),
                    Subject = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: false),
                    Metric = table.Column<int>(type: "integer", nullable: false),
                    Window = table.Column<int>(type: "integer", nullable: false),
                    Limit = table.Column<long>(type: "bigint", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_quotas", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "settings",
                columns: table => new
                {
                    Key = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: false),
                    Value = table.Column<string>(type: "character varying(1024)", maxLength: 1024, nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_settings", x => x.Key);
                });

            migrationBuilder.CreateTable(
                name: "settlements",
                columns: table => new
                {
                    Id = table.Column<string>(type: "character varying(400)", maxLength: 400, nullable: false),
                    OrgId = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: false),
                    Kind = table.Column<int>(type: "integer", nullable: false),
                    ProjectId = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: false),
                    PrincipalId = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: false),
                    TaskType = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: false),
                    Model = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: false),
                    Tier = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: false),
                    GrantedReasoningTokens = table.Column<long>(type: "bigint", nullable: false),
                    GrantedOutputTokens = table.Column<long>(type: "bigint", nullable: false),
                    InputTokens = table.Column<long>(type: "bigint", nullable: false),
                    CachedInputTokens = table.Column<long>(type: "bigint", nullable: false),
                    CacheWriteInputTokens = table.Column<long>(type: "bigint", nullable: false),
                    OutputTokens = table.Column<long>(type: "bigint", nullable: false),
                    ReasoningTokens = table.Column<long>(type: "bigint", nullable: false),
                    CostMicros = table.Column<long>(type: "bigint", nullable: false),
                    StopReason = table.Column<int>(type: "integer", nullable: false),
                    Outcome = table.Column<int>(type: "integer", nullable: false),
                    LatencyMs = table.Column<long>(type: "bigint", nullable: false),
                    Late = table.Column<bool>(type: "boolean", nullable: false),
                    OverGrant = table.Column<bool>(type: "boolean", nullable: false),
                    Truncated = table.Column<bool>(type: "boolean", nullable: false),
                    SettledAtMs = table.Column<long>(type: "bigint", nullable: false),
                    QuotasJson = table.Column<string>(type: "character varying(8000)", maxLength: 8000, nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_settlements", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "tier_rules",
                columns: table => new
                {
                    Tier = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: false),
                    TaskType = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: false),
                    MinReasoningTokens = table.Column<long>(type: "bigint", nullable: false),
                    DefaultReasoningTokens = table.Column<long>(type: "bigint", nullable: false),
                    MaxReasoningTokens = table.Column<long>(type: "bigint", nullable: false),
                    AnswerTokens = table.Column<long>(type: "bigint", nullable: false),
                    MaxOutputTokens = table.Column<long>(type: "bigint", nullable: false),
                    Effort = table.Column<int>(type: "integer", nullable: false),
                    EscalationFactor = table.Column<double>(type: "double precision", nullable: false),
                    PreliminaryFraction = table.Column<double>(type: "double precision", nullable: false),
                    SoftLimitThreshold = table.Column<double>(type: "double precision", nullable: false),
                    SoftLimitFloor = table.Column<double>(type: "double precision", nullable: false),
                    TaskBudgetTokens = table.Column<long>(type: "bigint", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_tier_rules", x => new { x.Tier, x.TaskType });
                });

            migrationBuilder.CreateIndex(
                name: "IX_capacity_leases_ExpiresAtMs",
                table: "capacity_leases",
                column: "ExpiresAtMs");

            migrationBuilder.CreateIndex(
                name: "IX_quotas_OrgId",
                table: "quotas",
                column: "OrgId");

            migrationBuilder.CreateIndex(
                name: "IX_settlements_OrgId_SettledAtMs",
                table: "settlements",
                columns: new[] { "OrgId", "SettledAtMs" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "capacity_leases");

            migrationBuilder.DropTable(
                name: "models");

            migrationBuilder.DropTable(
                name: "orgs");

            migrationBuilder.DropTable(
                name: "quota_counters");

            migrationBuilder.DropTable(
                name: "quotas");

            migrationBuilder.DropTable(
                name: "settings");

            migrationBuilder.DropTable(
                name: "settlements");

            migrationBuilder.DropTable(
                name: "tier_rules");
        }
    }
}
