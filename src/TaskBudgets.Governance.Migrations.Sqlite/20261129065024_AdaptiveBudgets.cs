using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace TaskBudgets.Governance.Storage.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class AdaptiveBudgets : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            // Existing rules get the policy file's defaults: min_samples 200, target_truncation_rate 0.02.
            migrationBuilder.AddColumn<bool>(
                name: "Adaptive",
                table: "tier_rules",
                type: "INTEGER",
                nullable: false,
                defaultValue: false);

            migrationBuilder.AddColumn<int>(
                name: "MinSamples",
                table: "tier_rules",
                type: "INTEGER",
                nullable: false,
                defaultValue: 200);

            migrationBuilder.AddColumn<double>(
                name: "TargetTruncationRate",
                table: "tier_rules",
                type: "REAL",
                nullable: false,
                defaultValue: 0.02);

            migrationBuilder.CreateTable(
                name: "calibrations",
                columns: table => new
                {
                    ReplicaId = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    Tier = table.Column<string>(type: "TEXT", maxLength: 128, nullable: false),
                    TaskType = table.Column<string>(type: "TEXT", maxLength: 128, nullable: false),
                    OrgId = table.Column<string>(type: "TEXT", maxLength: 128, nullable: false),
                    Stats = table.Column<byte[]>(type: "BLOB", nullable: false),
                    UpdatedAtMs = table.Column<long>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_calibrations", x => new { x.ReplicaId, x.Tier, x.TaskType, x.OrgId });
                });

            migrationBuilder.CreateIndex(
                name: "IX_calibrations_UpdatedAtMs",
                table: "calibrations",
                column: "UpdatedAtMs");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "calibrations");

            migrationBuilder.DropColumn(
                name: "Adaptive",
                table: "tier_rules");

            migrationBuilder.DropColumn(
                name: "MinSamples",
                table: "tier_rules");

            migrationBuilder.DropColumn(
                name: "TargetTruncationRate",
                table: "tier_rules");
        }
    }
}
