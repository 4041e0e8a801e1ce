using System.Security.Cryptography;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using TaskBudgets.Governance.Grants;
using TaskBudgets.Governance.Tests.Api;
using TaskBudgets.Governance.Tests.Infrastructure;
using TaskBudgets.V1;

namespace TaskBudgets.Governance.Tests.Grants;

/// <summary>
/// Grant signing keys from configuration, each with an id in its tokens: a new key signs while the
/// old one still verifies, and a key dropped no longer does. Replicas on one database stand in for
/// the same server restarted with new settings.
/// </summary>
public sealed class SigningKeyRotationTests
{
    private static readonly GetBudgetRequest Ask = new() { OrgId = "acme", TaskType = "t", Model = "claude-test" };
    private static readonly string KeyA = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
    private static readonly string KeyB = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));

    private static ReportUsageRequest Report(string grantId) => new() { GrantId = grantId, Usage = new UsageTokens { OutputTokens = 10 }, StopReason = StopReason.EndTurn };

    private static Dictionary<string, string> Keys(params (string Id, string Key)[] keys)
    {
        var settings = new Dictionary<string, string>();
        for (var i = 0; i < keys.Length; i++)
        {
            settings[$"Grants:SigningKeys:{i}:Id"] = keys[i].Id;
            settings[$"Grants:SigningKeys:{i}:Key"] = keys[i].Key;
        }

        return settings;
    }

    private static string KeyIdOf(GovernanceApp app, string token) => app.Services.GetRequiredService<GrantTokens>().Verify(token)!.KeyId;

    [Fact]
    public async Task A_new_key_signs_while_the_old_one_verifies_and_a_dropped_key_no_longer_does()
    {
        await using var withA = GovernanceApp.Create(extra: Keys(("a", KeyA)));
        var first = (await withA.Budgets.GetBudgetAsync(Ask)).GrantId;
        var second = (await withA.Budgets.GetBudgetAsync(Ask)).GrantId;
        Assert.Equal("a", KeyIdOf(withA, first));

        await using var rotated = GovernanceApp.Create(extra: Keys(("b", KeyB), ("a", KeyA)), dataDirectory: withA.DataDirectory);
        await rotated.Budgets.ReportUsageAsync(Report(first));
        var signedByB = (await rotated.Budgets.GetBudgetAsync(Ask)).GrantId;
        Assert.Equal("b", KeyIdOf(rotated, signedByB));
        await RpcAssert.FailsAsync(StatusCode.NotFound, "GRANT_NOT_FOUND", () => withA.Budgets.ReportUsageAsync(Report(signedByB)).ResponseAsync);

        await using var onlyB = GovernanceApp.Create(extra: Keys(("b", KeyB)), dataDirectory: withA.DataDirectory);
        await RpcAssert.FailsAsync(StatusCode.NotFound, "GRANT_NOT_FOUND", () => onlyB.Budgets.ReportUsageAsync(Report(second)).ResponseAsync);
        var third = (await onlyB.Budgets.GetBudgetAsync(Ask)).GrantId;
        await onlyB.Budgets.ReportUsageAsync(Report(third));
    }

    [Fact]
    public async Task A_grant_signed_with_the_stored_key_before_keys_were_configured_still_settles_until_it_has_expired()
    {
        await using var before = GovernanceApp.Create();
        var old = (await before.Budgets.GetBudgetAsync(Ask)).GrantId;
        var older = (await before.Budgets.GetBudgetAsync(Ask)).GrantId;
        Assert.Equal(string.Empty, KeyIdOf(before, old));

        await using var upgraded = GovernanceApp.Create(extra: Keys(("b", KeyB)), dataDirectory: before.DataDirectory);
        await upgraded.Budgets.ReportUsageAsync(Report(old));
        Assert.Equal("b", KeyIdOf(upgraded, (await upgraded.Budgets.GetBudgetAsync(Ask)).GrantId));

        upgraded.Time.Advance(TimeSpan.FromHours(1));
        Assert.Null(upgraded.Services.GetRequiredService<GrantTokens>().Verify(older));
    }

    [Theory]
    [InlineData("Grants:SigningKeys:0:Key", "c2hvcnQ=", "Grants:SigningKeys:0:Key (id 'a') has 5 bytes")]
    [InlineData("Grants:SigningKeys:0:Id", "a b", "Grants:SigningKeys:0:Id must be")]
    public async Task A_bad_signing_key_stops_the_start_with_one_line_naming_it(string key, string value, string named)
    {
        using var directory = new TempDirectory();
        var settings = directory.WithTestPolicy();
        foreach (var (k, v) in Keys(("a", KeyA)))
        {
            settings[k] = v;
        }

        settings[key] = value;

        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => ServerProcess.StartAsync(directory.Path, settings));

        Assert.Contains("the server exited with 1:", refused.Message, StringComparison.Ordinal);
        var line = Assert.Single(refused.Message.Split('\n'), l => l.StartsWith("Configuration error: ", StringComparison.Ordinal));
        Assert.Contains(named, line, StringComparison.Ordinal);
        Assert.DoesNotContain(KeyA, refused.Message, StringComparison.Ordinal);
    }
}
