using Google.Rpc;
using Grpc.Core;
using TaskBudgets.Governance.Tests.Api;
using TaskBudgets.Governance.Tests.Infrastructure;
using TaskBudgets.V1;

namespace TaskBudgets.Governance.Tests.Auth;

/// <summary>The service protects itself: a request rate per key, and the first admin key is safe by default.</summary>
public sealed class ServiceProtectionTests
{
    private static readonly GetOrgRequest GetAcme = new() { OrgId = "acme" };

    [Fact]
    public async Task A_key_past_its_request_rate_is_resource_exhausted_with_retry_info_and_other_keys_are_not()
    {
        await using var app = GovernanceApp.Create(extra: new Dictionary<string, string>
        {
            ["Auth:RequestsPerSecond"] = "2",
            ["Auth:RequestBurst"] = "3",
        });
        var (other, _) = await app.CreateKeyAsync(ApiKeyRole.Caller, "acme");
        app.Time.Advance(TimeSpan.FromSeconds(10));

        for (var i = 0; i < 3; i++)
        {
            await app.Admin.GetOrgAsync(GetAcme);
        }

        var status = await RpcAssert.FailsAsync(StatusCode.ResourceExhausted, "RATE_LIMITED", () => app.Admin.GetOrgAsync(GetAcme).ResponseAsync);
        var otherKey = await app.BudgetsFor(other).GetBudgetAsync(new GetBudgetRequest { OrgId = "acme", TaskType = "t", Model = "claude-test" });
        app.Time.Advance(TimeSpan.FromSeconds(0.5));
        var afterWait = await app.Admin.GetOrgAsync(GetAcme);

        Assert.Equal(TimeSpan.FromSeconds(0.5), status.GetDetail<RetryInfo>().RetryDelay.ToTimeSpan());
        Assert.NotNull(otherKey.GrantId);
        Assert.Equal("acme", afterWait.Org.OrgId);
    }

    [Fact]
    public async Task Without_a_configured_key_a_first_admin_key_is_generated_saved_owner_only_and_reused_from_its_file()
    {
        string directory;
        string secret;
        await using (var app = GovernanceApp.Create(extra: new Dictionary<string, string> { ["Auth:AdminKey"] = string.Empty }))
        {
            directory = app.DataDirectory;
            var path = Path.Combine(directory, "admin-key");
            secret = (await File.ReadAllTextAsync(path)).Trim();

            Assert.Matches("^tb_[A-Za-z0-9_-]{43}$", secret);
            if (!OperatingSystem.IsWindows())
            {
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
            }

            Assert.Equal("acme", (await app.AdminFor(secret).GetOrgAsync(GetAcme)).Org.OrgId);
            await RpcAssert.FailsAsync(StatusCode.Unauthenticated, "KEY_INVALID", () => app.Admin.GetOrgAsync(GetAcme).ResponseAsync);
        }

        // The same data directory, a new process: the saved key, not a new one.
        var again = new Dictionary<string, string> { ["Auth:AdminKey"] = string.Empty, ["Storage:DataDirectory"] = directory };
        Directory.CreateDirectory(directory);
        await File.WriteAllTextAsync(Path.Combine(directory, "admin-key"), secret + "\n");
        await using var restarted = GovernanceApp.Create(extra: again);
        Assert.Equal("acme", (await restarted.AdminFor(secret).GetOrgAsync(GetAcme)).Org.OrgId);
    }

    [Fact]
    public async Task The_first_admin_key_can_come_from_a_file()
    {
        var file = Path.GetTempFileName();
        await File.WriteAllTextAsync(file, "tb_from-a-secret-file-0123456789abcdefghijklmn\n");
        try
        {
            await using var app = GovernanceApp.Create(extra: new Dictionary<string, string> { ["Auth:AdminKey"] = string.Empty, ["Auth:AdminKeyFile"] = file });

            Assert.Equal("acme", (await app.AdminFor("tb_from-a-secret-file-0123456789abcdefghijklmn").GetOrgAsync(GetAcme)).Org.OrgId);
            Assert.False(File.Exists(Path.Combine(app.DataDirectory, "admin-key")));
        }
        finally
        {
            File.Delete(file);
        }
    }
}
