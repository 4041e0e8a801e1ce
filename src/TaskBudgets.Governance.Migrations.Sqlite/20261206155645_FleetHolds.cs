using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace TaskBudgets.Governance.Storage.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class FleetHolds : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<long>(
                name: "Held",
                table: "capacity_leases",
                type: "INTEGER",
                nullable: false,
                defaultValue: 0L);

            migrationBuilder.AddColumn<long>(
                name: "Reclaimed",
                table: "capacity_leases",
                type: "INTEGER",
                nullable: false,
                defaultValue: 0L);

            migrationBuilder.AddColumn<long>(
                name: "RenewedAtMs",
                table: "capacity_leases",
                type: "INTEGER",
                nullable: false,
                defaultValue: 0L);

            migrationBuilder.AddColumn<long>(
                name: "Reserved",
                table: "capacity_leases",
                type: "INTEGER",
                nullable: false,
                defaultValue: 0L);

            migrationBuilder.CreateTable(
                name: "grant_notices",
                columns: table => new
                {
                    IssuerReplicaId = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    GrantId = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    ExpiresAtMs = table.Column<long>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_grant_notices", x => new { x.IssuerReplicaId, x.GrantId });
                });

            migrationBuilder.CreateIndex(
                name: "IX_capacity_leases_CounterKey_WindowStart",
                table: "capacity_leases",
                columns: new[] { "CounterKey", "WindowStart" });

            migrationBuilder.CreateIndex(
                name: "IX_grant_notices_ExpiresAtMs",
                table: "grant_notices",
                column: "ExpiresAtMs");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "grant_notices");

            migrationBuilder.DropIndex(
                name: "IX_capacity_leases_CounterKey_WindowStart",
                table: "capacity_leases");

            migrationBuilder.DropColumn(
                name: "Held",
                table: "capacity_leases");

            migrationBuilder.DropColumn(
                name: "Reclaimed",
                table: "capacity_leases");

            migrationBuilder.DropColumn(
                name: "RenewedAtMs",
                table: "capacity_leases");

            migrationBuilder.DropColumn(
                name: "Reserved",
                table: "capacity_leases");
        }
    }
}
