using Grpc.Core;
using Grpc.Core.Interceptors;
using TaskBudgets.Governance.Tests.Infrastructure;
using TaskBudgets.V1;

namespace TaskBudgets.Governance.Tests.Auth;

/// <summary>
/// What a first start leaves on disk and in the log, in a started server: the generated admin key
/// only in its owner-only file, the data directory and the SQLite files owner-only.
/// </summary>
public sealed class FirstStartSecretsTests
{
    private const UnixFileMode OwnerReadWrite = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    [Fact]
    public async Task A_first_start_logs_where_the_generated_admin_key_is_not_the_key_and_keeps_its_files_owner_only()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        using var directory = new TempDirectory();
        var data = Path.Combine(directory.Path, "data");
        var settings = directory.WithTestPolicy();
        settings["Auth:AdminKey"] = string.Empty;
        settings["Storage:DataDirectory"] = data;
        await using var server = await ServerProcess.StartAsync(directory.Path, settings);

        var keyFile = Path.Combine(data, "admin-key");
        var key = (await File.ReadAllTextAsync(keyFile)).Trim();
        var budgets = new BudgetService.BudgetServiceClient(server.Channel.Intercept(m =>
        {
            m.Add("authorization", "Bearer " + key);
            return m;
        }));
        var grant = await budgets.GetBudgetAsync(new GetBudgetRequest { OrgId = "acme", TaskType = "t", Model = "claude-test" });
        await budgets.ReportUsageAsync(new ReportUsageRequest { GrantId = grant.GrantId, Usage = new UsageTokens { OutputTokens = 10 }, StopReason = StopReason.EndTurn });

        var output = server.Output;
        Assert.DoesNotContain(key, output, StringComparison.Ordinal);
        Assert.DoesNotContain(key[3..], output, StringComparison.Ordinal);
        var line = Assert.Single(output.Split('\n'), l => l.Contains("generated the first admin key", StringComparison.Ordinal));
        Assert.Contains("bootstrap-admin", line, StringComparison.Ordinal);
        Assert.Contains(Path.GetFullPath(keyFile), output, StringComparison.Ordinal);

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(data));
        Assert.Equal(OwnerReadWrite, File.GetUnixFileMode(keyFile));
        foreach (var file in new[] { "governance.db", "governance.db-wal", "governance.db-shm" })
        {
            var path = Path.Combine(data, file);
            Assert.True(File.Exists(path), file + " is missing");
            Assert.Equal(OwnerReadWrite, File.GetUnixFileMode(path));
        }
    }

    [Fact]
    public async Task A_database_file_left_readable_by_others_is_narrowed_to_its_owner_at_start()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        using var directory = new TempDirectory();
        var database = Path.Combine(directory.Path, "governance.db");
        await File.WriteAllBytesAsync(database, []);
        File.SetUnixFileMode(database, OwnerReadWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);

        await using var server = await ServerProcess.StartAsync(directory.Path, directory.WithTestPolicy());
        await server.Budgets.GetBudgetAsync(new GetBudgetRequest { OrgId = "acme", TaskType = "t", Model = "claude-test" });

        Assert.Equal(OwnerReadWrite, File.GetUnixFileMode(database));
        Assert.Equal(OwnerReadWrite, File.GetUnixFileMode(database + "-wal"));
    }

    [Theory]
    [InlineData("a")]
    [InlineData("tb_correct-horse-battery-staple")]
    [InlineData("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde")]
    [InlineData("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")]
    public async Task A_configured_admin_key_shorter_than_32_random_bytes_stops_the_start_with_one_line_not_naming_it(string key)
    {
        using var directory = new TempDirectory();
        var settings = directory.WithTestPolicy();
        settings["Auth:AdminKey"] = key;

        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => ServerProcess.StartAsync(directory.Path, settings));

        Assert.Contains("the server exited with 1:", refused.Message, StringComparison.Ordinal);
        var line = Assert.Single(refused.Message.Split('\n'), l => l.StartsWith("Configuration error: ", StringComparison.Ordinal));
        Assert.Contains("Auth:AdminKey: the admin key is too weak", line, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", refused.Message, StringComparison.Ordinal);
        if (key.Length > 1)
        {
            Assert.DoesNotContain(key, refused.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_weak_admin_key_file_stops_the_start()
    {
        using var directory = new TempDirectory();
        var file = Path.Combine(directory.Path, "secret-admin-key");
        await File.WriteAllTextAsync(file, "hunter2\n");
        var settings = directory.WithTestPolicy();
        settings["Auth:AdminKey"] = string.Empty;
        settings["Auth:AdminKeyFile"] = file;

        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => ServerProcess.StartAsync(directory.Path, settings));

        var line = Assert.Single(refused.Message.Split('\n'), l => l.StartsWith("Configuration error: ", StringComparison.Ordinal));
        Assert.Contains("Auth:AdminKeyFile", line, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", refused.Message, StringComparison.Ordinal);
    }
}
