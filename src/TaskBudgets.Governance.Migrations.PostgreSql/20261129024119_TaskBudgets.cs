using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace TaskBudgets.Governance.Storage.Migrations.PostgreSql
{
    /// <inheritdoc />
    public partial class TaskBudgets : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "task_budgets",
                columns: table => new
                {
                    OrgId = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: false),
                    TaskId = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: false),
                    Total = table.Column<long>(type: "bigint", nullable: false),
                    Used = table.Column<long>(type: "bigint", nullable: false),
                    CreatedAtMs = table.Column<long>(type: "bigint", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_task_budgets", x => new { x.OrgId, x.TaskId });
                });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "task_budgets");
        }
    }
}
