using System.Text.Json;
using TaskBudgets.Testing;

namespace TaskBudgets.Governance.Tests.Processes;

/// <summary>The runtime settings the built server starts with (its runtimeconfig.json, which publishing copies too).</summary>
public sealed class RuntimeSettingsTests
{
    [Fact]
    public void The_server_runs_with_server_GC_and_thread_pool_workers_that_do_not_spin()
    {
        var dll = LocalServer.BuiltAssembly(Repository.Configuration);
        using var runtimeConfig = JsonDocument.Parse(File.ReadAllText(Path.ChangeExtension(dll, ".runtimeconfig.json")));
        var properties = runtimeConfig.RootElement.GetProperty("runtimeOptions").GetProperty("configProperties");

        Assert.Equal(0, properties.GetProperty("System.Threading.ThreadPool.UnfairSemaphoreSpinLimit").GetInt32());
        Assert.True(properties.GetProperty("System.GC.Server").GetBoolean());
    }
}
