using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace TaskBudgets.Governance.Storage.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class ControlPlane : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "Projects",
                table: "orgs",
                type: "TEXT",
                maxLength: 8000,
                nullable: false,
                defaultValue: "");

            migrationBuilder.CreateTable(
                name: "api_keys",
                columns: table => new
                {
                    Id = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    Hash = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    Role = table.Column<int>(type: "INTEGER", nullable: false),
                    OrgId = table.Column<string>(type: "TEXT", maxLength: 128, nullable: false),
                    Description = table.Column<string>(type: "TEXT", maxLength: 256, nullable: false),
                    CreatedBy = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    CreatedAtMs = table.Column<long>(type: "INTEGER", nullable: false),
                    RevokedAtMs = table.Column<long>(type: "INTEGER", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_api_keys", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "audit_events",
                columns: table => new
                {
                    Id = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    AtMs = table.Column<long>(type: "INTEGER", nullable: false),
                    Actor = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    Action = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    ResourceType = table.Column<string>(type: "TEXT", maxLength: 32, nullable: false),
                    ResourceId = table.Column<string>(type: "TEXT", maxLength: 400, nullable: false),
                    OrgId = table.Column<string>(type: "TEXT", maxLength: 128, nullable: false),
                    Before = table.Column<string>(type: "TEXT", nullable: false),
                    After = table.Column<string>(type: "TEXT", nullable: false),
                    PolicyVersion = table.Column<long>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_audit_events", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "usage_counters",
                columns: table => new
                {
                    Id = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    OrgId = table.Column<string>(type: "TEXT", maxLength: 128, nullable: false),
                    ProjectId = table.Column<string>(type: "TEXT", maxLength: 128, nullable: false),
                    PrincipalId = table.Column<string>(type: "TEXT", maxLength: 128, nullable: false),
                    Tier = table.Column<string>(type: "TEXT", maxLength: 128, nullable: false),
                    TaskType = table.Column<string>(type: "TEXT", maxLength: 128, nullable: false),
                    HourStart = table.Column<long>(type: "INTEGER", nullable: false),
                    Grants = table.Column<long>(type: "INTEGER", nullable: false),
                    Reduced = table.Column<long>(type: "INTEGER", nullable: false),
                    Denials = table.Column<long>(type: "INTEGER", nullable: false),
                    GrantedReasoningTokens = table.Column<long>(type: "INTEGER", nullable: false),
                    GrantedOutputTokens = table.Column<long>(type: "INTEGER", nullable: false),
                    GrantedInputTokens = table.Column<long>(type: "INTEGER", nullable: false),
                    GrantedCostMicros = table.Column<long>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_usage_counters", x => x.Id);
                });

            migrationBuilder.CreateIndex(
                name: "IX_api_keys_Hash",
                table: "api_keys",
                column: "Hash",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_api_keys_OrgId",
                table: "api_keys",
                column: "OrgId");

            migrationBuilder.CreateIndex(
                name: "IX_audit_events_AtMs",
                table: "audit_events",
                column: "AtMs");

            migrationBuilder.CreateIndex(
                name: "IX_audit_events_OrgId_Id",
                table: "audit_events",
                columns: new[] { "OrgId", "Id" });

            migrationBuilder.CreateIndex(
                name: "IX_usage_counters_OrgId_HourStart",
                table: "usage_counters",
                columns: new[] { "OrgId", "HourStart" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "api_keys");

            migrationBuilder.DropTable(
                name: "audit_events");

            migrationBuilder.DropTable(
                name: "usage_counters");

            migrationBuilder.DropColumn(
                name: "Projects",
                table: "orgs");
        }
    }
}
