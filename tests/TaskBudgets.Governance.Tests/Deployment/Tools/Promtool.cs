using TaskBudgets.Governance.Tests.Infrastructure;

namespace TaskBudgets.Governance.Tests.Deployment.Tools;

/// <summary>promtool, from Debian's prometheus package (scripts/test.sh installs it as root).</summary>
public static class Promtool
{
    public static Task<CommandResult> RunAsync(params string[] arguments) =>
        Command.RunAsync(ToolPath.Require("promtool", "to check Prometheus files (apt-get install prometheus)"), arguments);
}
