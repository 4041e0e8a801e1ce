using Grpc.Core;
using Grpc.Core.Interceptors;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using TaskBudgets.Governance.Storage;
using TaskBudgets.V1;

namespace TaskBudgets.Governance.Tests.Infrastructure;

/// <summary>
/// The real server in process (WebApplicationFactory) on a real database of its own, with a
/// fake clock the test moves. Callers talk to it through a real gRPC channel.
/// </summary>
public sealed class GovernanceApp : WebApplicationFactory<Program>
{
    public static readonly DateTimeOffset Start = new(2026, 3, 10, 12, 0, 0, TimeSpan.Zero);

    /// <summary>The first admin key of every test app (Auth:AdminKey).</summary>
    public const string AdminKey = "tb_test-admin-key-not-secret-0123456789abcdefghijk";

    private readonly Dictionary<string, string> settings;
    private readonly string directory;
    private GrpcChannel? channel;

    private GovernanceApp(Dictionary<string, string> settings, string directory)
    {
        this.settings = settings;
        this.directory = directory;
    }

    public FakeTimeProvider Time { get; } = new(Start);

    /// <summary>Storage:DataDirectory of this app (SQLite file, generated admin key).</summary>
    public string DataDirectory => directory;

    /// <summary>BudgetService with the admin key.</summary>
    public BudgetService.BudgetServiceClient Budgets => new(Invoker(AdminKey));

    /// <summary>AdminService with the admin key.</summary>
    public AdminService.AdminServiceClient Admin => new(Invoker(AdminKey));

    /// <summary>The channel itself: calls on it carry no key (health and reflection need none).</summary>
    public GrpcChannel Channel => channel ??= GrpcChannel.ForAddress(Server.BaseAddress, new GrpcChannelOptions
    {
        HttpHandler = Server.CreateHandler(),
        MaxReceiveMessageSize = null,
        MaxSendMessageSize = null,
    });

    /// <summary>Calls that carry `authorization: Bearer <paramref name="key"/>`, or no key when it is null.</summary>
    public CallInvoker Invoker(string? key) =>
        key is null ? Channel.CreateCallInvoker() : Channel.Intercept(headers =>
        {
            headers.Add("authorization", "Bearer " + key);
            return headers;
        });

    public BudgetService.BudgetServiceClient BudgetsFor(string? key) => new(Invoker(key));

    public AdminService.AdminServiceClient AdminFor(string? key) => new(Invoker(key));

    /// <summary>Starts the app on SQLite, or on PostgreSQL when a connection string is given.</summary>
    /// <param name="dataDirectory">Another app's data directory, to share its SQLite database as a second replica would.</param>
    public static GovernanceApp Create(string? postgres = null, string policy = TestPolicy.Yaml, IDictionary<string, string>? extra = null, string? dataDirectory = null)
    {
        var directory = dataDirectory ?? Path.Combine(Path.GetTempPath(), "tb-test-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(directory);
        var policyFile = Path.Combine(directory, "policy.yaml");
        File.WriteAllText(policyFile, policy);
        var settings = new Dictionary<string, string>
        {
            ["Storage:Provider"] = postgres is null ? "Sqlite" : "PostgreSql",
            ["Storage:DataDirectory"] = directory,
            ["Policy:File"] = policyFile,
            ["Policy:ApplyOnStart"] = "Always",
            ["Auth:AdminKey"] = AdminKey,

            // Tests share one key across many calls on a clock that does not move: no rate limit
            // unless a test sets one.
            ["Auth:RequestsPerSecond"] = "1000000",
            ["Auth:RequestBurst"] = "100000000",
            // The sweeps and fuzzing call with no key or a bad one by the hundred, from one address.
            ["Auth:FailedAuthBurst"] = "1000000",
            ["Auth:FailedAuthPerSecond"] = "1000000",

            // Exploring calls get a budget raised at random: tests that expect an exact adaptive
            // budget would fail one call in fifty. The exploration tests turn it on.
            ["Calibration:ExplorationShare"] = "0",
        };
        if (postgres is not null)
        {
            settings["ConnectionStrings:Governance"] = postgres;
        }

        foreach (var (key, value) in extra ?? new Dictionary<string, string>())
        {
            settings[key] = value;
        }

        var app = new GovernanceApp(settings, directory);
        _ = app.Server; // start now, so start-up failures surface here
        return app;
    }

    /// <summary>Creates a key through the admin API and returns its secret and id.</summary>
    public async Task<(string Secret, string KeyId)> CreateKeyAsync(ApiKeyRole role, string orgId = "")
    {
        var created = await Admin.CreateApiKeyAsync(new CreateApiKeyRequest { Role = role, OrgId = orgId, Description = "test" });
        return (created.Secret, created.ApiKey.KeyId);
    }

    public GovernanceDbContext Db() => Services.GetRequiredService<IDbContextFactory<GovernanceDbContext>>().CreateDbContext();

    /// <summary>Consumed and leased of every counter, by counter key and window start.</summary>
    public async Task<List<QuotaCounter>> CountersAsync()
    {
        await using var db = Db();
        return await db.QuotaCounters.AsNoTracking().ToListAsync();
    }

    /// <summary>HTTP clients of the app (CreateClient) send the admin key, as gRPC clients of <see cref="Budgets"/> do.</summary>
    protected override void ConfigureClient(HttpClient client)
    {
        ArgumentNullException.ThrowIfNull(client);
        base.ConfigureClient(client);
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", AdminKey);
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        foreach (var (key, value) in settings)
        {
            builder.UseSetting(key, value);
        }

        builder.UseEnvironment("Testing");
        builder.ConfigureTestServices(services => services.AddSingleton<TimeProvider>(Time));
    }

    public override async ValueTask DisposeAsync()
    {
        channel?.Dispose();
        await base.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (IOException)
        {
            // A file still closing: the temp folder is cleaned by the machine.
        }
    }
}
