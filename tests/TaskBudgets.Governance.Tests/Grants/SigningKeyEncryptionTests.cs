using System.Security.Cryptography;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using TaskBudgets.Governance.Grants;
using TaskBudgets.Governance.Storage;
using TaskBudgets.Governance.Tests.Infrastructure;
using TaskBudgets.V1;

namespace TaskBudgets.Governance.Tests.Grants;

/// <summary>The grant signing key the database holds, encrypted under Grants:KeyEncryptionKey when it is set.</summary>
public sealed class SigningKeyEncryptionTests
{
    private static readonly GetBudgetRequest Ask = new() { OrgId = "acme", TaskType = "t", Model = "claude-test" };

    private static async Task<string> StoredAsync(GovernanceApp app)
    {
        await using var db = app.Db();
        return await db.Settings.AsNoTracking().Where(s => s.Key == SettingRow.GrantSigningKey).Select(s => s.Value).SingleAsync();
    }

    [Fact]
    public async Task A_key_stored_in_clear_is_encrypted_in_place_once_a_key_encryption_key_is_set_and_its_grants_still_settle()
    {
        var kek = new Dictionary<string, string> { ["Grants:KeyEncryptionKey"] = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)) };
        await using var clear = GovernanceApp.Create();
        var grant = (await clear.Budgets.GetBudgetAsync(Ask)).GrantId;
        var inClear = await StoredAsync(clear);
        Assert.Equal(32, Convert.FromBase64String(inClear).Length);

        await using var encrypted = GovernanceApp.Create(extra: kek, dataDirectory: clear.DataDirectory);
        var stored = await StoredAsync(encrypted);
        Assert.True(GrantSigningKeys.IsSealed(stored), stored[..8]);
        Assert.DoesNotContain(inClear, stored, StringComparison.Ordinal);
        await encrypted.Budgets.ReportUsageAsync(new ReportUsageRequest { GrantId = grant, Usage = new UsageTokens { OutputTokens = 10 }, StopReason = StopReason.EndTurn });

        await using var again = GovernanceApp.Create(extra: kek, dataDirectory: clear.DataDirectory);
        Assert.NotNull(again.Services.GetRequiredService<GrantTokens>().Verify((await encrypted.Budgets.GetBudgetAsync(Ask)).GrantId));
    }

    [Fact]
    public void A_sealed_key_opens_only_with_its_key_encryption_key()
    {
        var key = RandomNumberGenerator.GetBytes(32);
        var kek = RandomNumberGenerator.GetBytes(32);
        var stored = GrantSigningKeys.Seal(key, kek);

        Assert.Equal(key, GrantSigningKeys.Open(stored, kek));
        Assert.ThrowsAny<Exception>(() => GrantSigningKeys.Open(stored, RandomNumberGenerator.GetBytes(32)));
        Assert.ThrowsAny<Exception>(() => GrantSigningKeys.Open(stored, null));
    }
}
