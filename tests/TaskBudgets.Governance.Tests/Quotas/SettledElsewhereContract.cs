using Grpc.Core;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using TaskBudgets.Governance.Quotas;
using TaskBudgets.Governance.Tests.Infrastructure;
using TaskBudgets.V1;

namespace TaskBudgets.Governance.Tests.Quotas;

/// <summary>
/// Two replicas in one process on one database, each on a clock of its own, run once per
/// provider: a grant ended on the replica that did not issue it frees its issuer's capacity, and
/// a silent replica's free capacity is taken back while its hold stays. Renewal passes run only
/// when a test runs one, so every step is exact. <see cref="Processes.FleetTests"/> shows the
/// same with server processes on PostgreSQL.
/// </summary>
public abstract class SettledElsewhereContract : IAsyncLifetime
{
    private const long Grant = 1_024;

    private static readonly string Policy = TestPolicy.FixedGrant("""
          - id: ten
            tier: standard
            quotas:
              - metric: reasoning_tokens
                window: day
                limit: 10240
        """);

    private static readonly Dictionary<string, string> Settings = new()
    {
        ["Leases:RenewInterval"] = "00:10:00",

        // A hold covers live grants and (almost) no allowance: what it holds is exactly theirs.
        ["Leases:HoldAhead"] = "00:00:00.050",
        ["Leases:ReclaimFreeAfter"] = "00:20:00",
        ["Leases:Ttl"] = "02:00:00",
        ["Grants:Ttl"] = "01:00:00",
    };

    private GovernanceApp? issuer;
    private GovernanceApp? other;

    private GovernanceApp A => issuer!;

    private GovernanceApp B => other!;

    public async ValueTask InitializeAsync()
    {
        issuer = await StartAsync(null, Policy, Settings);
        other = await StartAsync(issuer, Policy, new Dictionary<string, string>(Settings) { ["Policy:ApplyOnStart"] = "Never" });
    }

    public async ValueTask DisposeAsync()
    {
        if (other is not null)
        {
            await other.DisposeAsync();
        }

        if (issuer is not null)
        {
            await issuer.DisposeAsync();
        }

        GC.SuppressFinalize(this);
    }

    [Fact]
    public async Task A_grant_released_or_reported_on_the_other_replica_frees_its_issuer_and_the_capacity_moves()
    {
        var issued = await GrantAllAsync(A);
        Assert.Equal(10, issued.Count);

        foreach (var grant in issued)
        {
            Assert.False((await B.Budgets.ReleaseBudgetAsync(new ReleaseBudgetRequest { GrantId = grant.GrantId })).AlreadySettled);
        }

        // Until A's next renewal pass it holds them; after it, none.
        Assert.Equal(10, Book(A).ActiveCount);
        await RenewAsync(A);
        Assert.Equal(0, Book(A).ActiveCount);
        var again = await GrantAllAsync(A);
        Assert.Equal(10, again.Count);

        // Reported on B: 1,000 used, 9,240 left, nine grants' worth, granted on B from A's lease.
        foreach (var grant in again)
        {
            await B.Budgets.ReportUsageAsync(new ReportUsageRequest
            {
                GrantId = grant.GrantId,
                Usage = new UsageTokens { OutputTokens = 110, ReasoningTokens = 100 },
                StopReason = StopReason.EndTurn,
            });
        }

        Assert.Equal(9, (await GrantAllAsync(B)).Count);
        await RenewAsync(A);
        Assert.Empty(await GrantAllAsync(A));
        Assert.Equal(0, Book(A).ActiveCount);

        await using var db = A.Db();
        Assert.Empty(await db.GrantNotices.ToListAsync());
        var counter = await db.QuotaCounters.SingleAsync();
        Assert.Equal(1_000, counter.Consumed);
        Assert.Equal(9 * Grant, counter.Leased);
    }

    [Fact]
    public async Task A_silent_replicas_free_capacity_is_taken_back_and_what_it_holds_for_live_grants_is_not()
    {
        for (var i = 0; i < 3; i++)
        {
            await A.Budgets.GetBudgetAsync(Ask());
        }

        await using (var db = A.Db())
        {
            var lease = await db.CapacityLeases.SingleAsync();
            Assert.Equal(3 * Grant, lease.Held);
            Assert.True(lease.Amount > lease.Held, $"A leased {lease.Amount} for three grants: nothing to take back");
        }

        // Not yet silent long enough: B takes back nothing, and the quota's rest is in A's lease.
        B.Time.Advance(TimeSpan.FromMinutes(19));
        await RenewAsync(B);
        await using (var db = A.Db())
        {
            Assert.Equal(0, (await db.CapacityLeases.SingleAsync()).Reclaimed);
        }

        B.Time.Advance(TimeSpan.FromMinutes(2));
        await RenewAsync(B);
        Assert.Equal(7, (await GrantAllAsync(B)).Count);

        // A, back on its own clock, grants nothing more: what it still holds backs its three grants.
        Assert.Empty(await GrantAllAsync(A));
        await using (var db = A.Db())
        {
            var counter = await db.QuotaCounters.SingleAsync();
            Assert.True(counter.Consumed + counter.Leased <= 10 * Grant, $"consumed {counter.Consumed} + leased {counter.Leased}");
        }
    }

    /// <summary>Starts a replica: the first on a new database, a second (<paramref name="first"/> given) on the first one's.</summary>
    protected abstract Task<GovernanceApp> StartAsync(GovernanceApp? first, string policy, IDictionary<string, string> settings);

    private static GetBudgetRequest Ask() => new() { OrgId = "ten", TaskType = "t", Model = "claude-test" };

    private static GrantBook Book(GovernanceApp app) => app.Services.GetRequiredService<GrantBook>();

    private static Task RenewAsync(GovernanceApp app) => app.Services.GetRequiredService<LeaseRenewal>().RenewAllAsync(CancellationToken.None);

    private static async Task<List<GetBudgetResponse>> GrantAllAsync(GovernanceApp app)
    {
        var grants = new List<GetBudgetResponse>();
        while (true)
        {
            try
            {
                grants.Add(await app.Budgets.GetBudgetAsync(Ask()));
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.ResourceExhausted)
            {
                return grants;
            }
        }
    }
}

/// <summary>On the embedded default: two replicas on one SQLite file.</summary>
public sealed class SqliteSettledElsewhereTests : SettledElsewhereContract
{
    protected override Task<GovernanceApp> StartAsync(GovernanceApp? first, string policy, IDictionary<string, string> settings) =>
        Task.FromResult(GovernanceApp.Create(policy: policy, extra: settings, dataDirectory: first?.DataDirectory));
}

/// <summary>On a real PostgreSQL server.</summary>
public sealed class PostgreSqlSettledElsewhereTests(PostgresServer postgres) : SettledElsewhereContract
{
    private string? database;

    protected override async Task<GovernanceApp> StartAsync(GovernanceApp? first, string policy, IDictionary<string, string> settings)
    {
        database ??= await postgres.CreateDatabaseAsync();
        return GovernanceApp.Create(database, policy, settings);
    }
}

/// <summary>On SQL Server, when TASKBUDGETS_TEST_SQLSERVER names one (reported skipped otherwise).</summary>
public sealed class SqlServerSettledElsewhereTests : SettledElsewhereContract
{
    private string? database;

    protected override Task<GovernanceApp> StartAsync(GovernanceApp? first, string policy, IDictionary<string, string> settings)
    {
        var server = Environment.GetEnvironmentVariable(Api.SqlServerBudgetServiceTests.Variable);
        if (string.IsNullOrWhiteSpace(server))
        {
            Assert.Skip($"No SQL Server: set {Api.SqlServerBudgetServiceTests.Variable} to a connection string (a login that may create databases) to run these.");
        }

        database ??= new Microsoft.Data.SqlClient.SqlConnectionStringBuilder(server) { InitialCatalog = "tb_" + Guid.NewGuid().ToString("N") }.ConnectionString;
        return Task.FromResult(GovernanceApp.Create(policy: policy, extra: new Dictionary<string, string>(settings)
        {
            ["Storage:Provider"] = "SqlServer",
            ["ConnectionStrings:Governance"] = database,
        }));
    }
}
