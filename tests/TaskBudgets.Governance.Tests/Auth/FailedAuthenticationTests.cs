using Google.Rpc;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Microsoft.Extensions.DependencyInjection;
using TaskBudgets.Governance.Auth;
using TaskBudgets.Governance.Tests.Api;
using TaskBudgets.Governance.Tests.Infrastructure;
using TaskBudgets.V1;

namespace TaskBudgets.Governance.Tests.Auth;

/// <summary>
/// Before authentication: failed authentications are limited per client address, a secret that is
/// no key is remembered apart from the known keys, and the failures are logged a line at a time.
/// </summary>
public sealed class FailedAuthenticationTests
{
    private static readonly GetBudgetRequest Ask = new() { OrgId = "acme", TaskType = "t", Model = "claude-test" };

    [Fact]
    public async Task A_flood_of_unknown_keys_from_one_address_is_limited_without_lookups_while_a_known_key_still_works_from_its_cache()
    {
        await using var app = GovernanceApp.Create(extra: new Dictionary<string, string>
        {
            ["Auth:FailedAuthBurst"] = "20",
            ["Auth:FailedAuthPerSecond"] = "1",
        });
        var (caller, _) = await app.CreateKeyAsync(ApiKeyRole.Caller, "acme");
        await app.BudgetsFor(caller).GetBudgetAsync(Ask);
        var directory = app.Services.GetRequiredService<KeyDirectory>();
        var before = directory.DatabaseLookups;

        var (refused, limited) = await FloodAsync(app.AdminFor, 200);

        Assert.InRange(refused, 20, 60);
        Assert.Equal(200, refused + limited);
        Assert.InRange(directory.DatabaseLookups - before, 1, refused);
        var status = await RpcAssert.FailsAsync(StatusCode.ResourceExhausted, "AUTH_FAILURES_LIMITED", () => app.AdminFor(ApiKeySecrets.NewSecret()).GetOrgAsync(new GetOrgRequest { OrgId = "acme" }).ResponseAsync);
        Assert.True(status.GetDetail<RetryInfo>().RetryDelay.ToTimeSpan() > TimeSpan.Zero);

        var lookups = directory.DatabaseLookups;
        Assert.NotNull((await app.BudgetsFor(caller).GetBudgetAsync(Ask)).GrantId);
        Assert.NotNull((await app.Budgets.GetBudgetAsync(Ask)).GrantId);
        Assert.Equal(lookups, directory.DatabaseLookups);
    }

    [Fact]
    public async Task An_unknown_key_repeated_costs_one_lookup_and_does_not_push_known_keys_out()
    {
        await using var app = GovernanceApp.Create();
        var (caller, _) = await app.CreateKeyAsync(ApiKeyRole.Caller, "acme");
        await app.BudgetsFor(caller).GetBudgetAsync(Ask);
        var directory = app.Services.GetRequiredService<KeyDirectory>();
        var before = directory.DatabaseLookups;
        var unknown = ApiKeySecrets.NewSecret();

        for (var i = 0; i < 10; i++)
        {
            await RpcAssert.FailsAsync(StatusCode.Unauthenticated, "KEY_INVALID", () => app.BudgetsFor(unknown).GetBudgetAsync(Ask).ResponseAsync);
        }

        Assert.Equal(before + 1, directory.DatabaseLookups);
        Assert.Equal(KeyDirectory.Known.NotAKey, directory.Cached(unknown, out _));
        Assert.Equal(KeyDirectory.Known.Key, directory.Cached(caller, out var who));
        Assert.Equal("acme", who!.OrgId);

        // Past the unknown key's short memory it is looked up again; the known key is still cached.
        app.Time.Advance(TimeSpan.FromSeconds(6));
        Assert.Equal(KeyDirectory.Known.Unseen, directory.Cached(unknown, out _));
        Assert.Equal(KeyDirectory.Known.Key, directory.Cached(caller, out _));
    }

    [Fact]
    public async Task A_started_server_under_a_flood_of_bad_keys_limits_them_logs_a_few_lines_and_serves_a_known_key()
    {
        using var directory = new TempDirectory();
        await using var server = await ServerProcess.StartAsync(directory.Path, directory.WithTestPolicy());
        var created = await server.Admin.CreateApiKeyAsync(new CreateApiKeyRequest { Role = ApiKeyRole.Caller, OrgId = "acme", Description = "test" });
        AdminService.AdminServiceClient For(string key) => new(server.Channel.Intercept(m =>
        {
            m.Add("authorization", "Bearer " + key);
            return m;
        }));
        var caller = new BudgetService.BudgetServiceClient(server.Channel.Intercept(m =>
        {
            m.Add("authorization", "Bearer " + created.Secret);
            return m;
        }));
        await caller.GetBudgetAsync(Ask);

        var (refused, limited) = await FloodAsync(For, 300);

        Assert.InRange(refused, 50, 120);
        Assert.True(limited >= 150, $"{limited} of 300 limited");
        Assert.NotNull((await caller.GetBudgetAsync(Ask)).GrantId);
        var lines = server.Output.Split('\n').Where(l => l.Contains("failed authentications", StringComparison.Ordinal)).ToList();
        Assert.InRange(lines.Count, 1, 3);
        Assert.Contains("127.0.0.1", lines[0], StringComparison.Ordinal);
    }

    // Distinct unknown keys, one after the other from one address: how many were refused as
    // unknown, and how many as limited.
    private static async Task<(int Refused, int Limited)> FloodAsync(Func<string, AdminService.AdminServiceClient> client, int count)
    {
        var refused = 0;
        var limited = 0;
        for (var i = 0; i < count; i++)
        {
            try
            {
                await client(ApiKeySecrets.NewSecret()).GetOrgAsync(new GetOrgRequest { OrgId = "acme" });
                Assert.Fail("An unknown key was let in.");
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.Unauthenticated)
            {
                refused++;
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.ResourceExhausted)
            {
                limited++;
            }
        }

        return (refused, limited);
    }
}
