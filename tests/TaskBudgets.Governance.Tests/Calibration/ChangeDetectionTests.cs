using TaskBudgets.Governance.Tests.Infrastructure;
using TaskBudgets.V1;

namespace TaskBudgets.Governance.Tests.Calibration;

/// <summary>
/// A change of what a task type needs, through the real gRPC surface: detected, visible, relearnt.
/// The test watches a task type once 1,000 calls are behind its calibration.
/// </summary>
public sealed class ChangeDetectionTests : AppTests
{
    /// <summary>
    /// A tier of its own: the apps of other test classes running at the same time share the
    /// metrics' meter name, so a change they detect in the same tier and task type would count here.
    /// </summary>
    private const string Tier = "change-watch";

    protected override Task<GovernanceApp> StartAsync() =>
        Task.FromResult(GovernanceApp.Create(policy: AdaptiveBudgetTests.Policy.Replace("name: adaptive", $"name: {Tier}", StringComparison.Ordinal).Replace("tier: adaptive", $"tier: {Tier}", StringComparison.Ordinal)));

    private async Task<V1.Calibration> RowAsync() =>
        (await App.Admin.GetCalibrationAsync(new GetCalibrationRequest { Tier = Tier, TaskType = "light" })).Calibrations.Single();

    [Fact]
    public async Task A_tripled_need_is_detected_shown_on_grants_and_in_get_calibration_and_counted_in_metrics()
    {
        await AdaptiveCalls.CallsAsync(App, "light", 1_000, i => 250 + (i * 37 % 100));
        await AdaptiveCalls.SyncAsync(App);
        var before = await AdaptiveCalls.AskAsync(App, "light");
        var steady = await RowAsync();

        // The same task type now needs three times as much: every call runs out of its budget.
        await AdaptiveCalls.CallsAsync(App, "light", 25, i => 3 * (250 + (i * 37 % 100)));
        await AdaptiveCalls.SyncAsync(App);
        var after = await AdaptiveCalls.AskAsync(App, "light");
        var row = await RowAsync();
        using var http = App.CreateClient();
        var scrape = MetricsScrape.Parse(await http.GetStringAsync(new Uri("/metrics", UriKind.Relative)));

        Assert.Contains(before.Reasons, r => r.Code == ReasonCode.Adaptive);
        Assert.DoesNotContain(before.Reasons, r => r.Code == ReasonCode.Recalibrating);
        Assert.Equal(0, steady.ChangesDetected);
        Assert.False(steady.Recalibrating);
        Assert.Null(steady.LastChangeTime);

        var recalibrating = Assert.Single(after.Reasons, r => r.Code == ReasonCode.Recalibrating);
        Assert.Contains("'light'", recalibrating.Text, StringComparison.Ordinal);
        Assert.Contains(after.Reasons, r => r.Code == ReasonCode.Adaptive);
        Assert.True(after.Budget.ReasoningTokens > before.Budget.ReasoningTokens, $"{after.Budget.ReasoningTokens} after, {before.Budget.ReasoningTokens} before");

        Assert.Equal(1, row.ChangesDetected);
        Assert.True(row.Recalibrating);
        Assert.True(row.Active);
        Assert.Equal(App.Time.GetUtcNow(), row.LastChangeTime.ToDateTimeOffset());
        Assert.InRange(row.CallsSinceChange, 1, 24);

        // The evidence from before the change is dropped: only the calls since count.
        Assert.Equal(row.CallsSinceChange, row.Samples, 6);

        var changes = Assert.Single(scrape.Samples, s => s.Name == "taskbudgets_calibration_changes_total" && s.Labels.GetValueOrDefault("task_type") == "light" && s.Labels.GetValueOrDefault("tier") == Tier);
        Assert.Equal("1", changes.Value);
    }

    [Fact]
    public async Task A_steady_task_type_raises_no_alarm_and_relearning_ends_after_min_samples_calls()
    {
        await AdaptiveCalls.CallsAsync(App, "light", 1_000, i => 250 + (i * 37 % 100));
        await AdaptiveCalls.SyncAsync(App);
        await AdaptiveCalls.CallsAsync(App, "light", 300, i => 250 + (i * 53 % 100));
        await AdaptiveCalls.SyncAsync(App);
        Assert.Equal(0, (await RowAsync()).ChangesDetected);

        await AdaptiveCalls.CallsAsync(App, "light", 25, i => 3 * (250 + (i * 37 % 100)));
        await AdaptiveCalls.SyncAsync(App);
        Assert.True((await RowAsync()).Recalibrating);

        // min_samples (40) calls at the new need: the row governs as before, without the reason.
        for (var round = 0; round < 4; round++)
        {
            await AdaptiveCalls.CallsAsync(App, "light", 15, i => 3 * (250 + (i * 37 % 100)));
            await AdaptiveCalls.SyncAsync(App);
        }

        var row = await RowAsync();
        var grant = await AdaptiveCalls.AskAsync(App, "light");
        Assert.Equal(1, row.ChangesDetected);
        Assert.False(row.Recalibrating);
        Assert.DoesNotContain(grant.Reasons, r => r.Code == ReasonCode.Recalibrating);
        Assert.Contains(grant.Reasons, r => r.Code == ReasonCode.Adaptive);
    }
}
