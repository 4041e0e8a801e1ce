using TaskBudgets.Governance.Tests.Infrastructure;

namespace TaskBudgets.Governance.Tests.Processes;

/// <summary>A bad setting stops the server before it serves, with exit code 1 and a line that names it, not an abort.</summary>
public sealed class BadSettingsTests
{
    [Theory]
    [InlineData("Leases:RenewParallelism", "0", "The field RenewParallelism must be between 1 and 64.")]
    [InlineData("Leases:DemandHorizon", "30s", "Failed to convert configuration value '30s' at 'Leases:DemandHorizon' to type 'System.TimeSpan'.")]
    [InlineData("Reports:MaxBatchSize", "many", "at 'Reports:MaxBatchSize'")]
    [InlineData("Leases:ReclaimFreeAfter", "00:00:03", "Leases:ReclaimFreeAfter must be at least two Leases:RenewInterval")]
    [InlineData("Leases:MaxClockSkew", "00:05:00", "Leases:MaxClockSkew must be less than half of Grants:Ttl.")]
    [InlineData("Calibration:ChangeThreshold", "2", "The field ChangeThreshold must be between 4 and 100.")]
    [InlineData("contentRoot", "no-such-folder", "no-such-folder/ does not exist")]
    public async Task A_setting_that_does_not_bind_or_validate_stops_the_start_with_one_line_naming_it(string key, string value, string named)
    {
        using var directory = new TempDirectory();
        var settings = directory.WithTestPolicy();
        settings[key] = value;

        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => ServerProcess.StartAsync(directory.Path, settings));

        Assert.Contains("the server exited with 1:", refused.Message, StringComparison.Ordinal);
        var line = Assert.Single(refused.Message.Split('\n'), l => l.StartsWith("Configuration error: ", StringComparison.Ordinal));
        Assert.Contains(named, line, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", refused.Message, StringComparison.Ordinal);
    }
}
