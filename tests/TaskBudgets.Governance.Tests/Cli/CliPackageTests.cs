using System.IO.Compression;
using TaskBudgets.Governance.Tests.Infrastructure;

namespace TaskBudgets.Governance.Tests.Cli;

/// <summary>The tool package `dotnet tool install` gets: small, and without the server in it.</summary>
public sealed class CliPackageTests
{
    private const long MaxPackageBytes = 10 * 1024 * 1024;

    [Fact]
    public async Task The_tool_package_is_under_10_MB_and_carries_no_server()
    {
        using var output = new TempDirectory();
        (await Command.RunAsync("dotnet", ["pack", "src/TaskBudgets.Cli", "-c", Repository.Configuration, "--no-build", "-o", output.Path, "-nologo"], Repository.Root, timeout: TimeSpan.FromMinutes(3))).Succeeded();

        var package = new FileInfo(Assert.Single(Directory.GetFiles(output.Path, "TaskBudgets.Cli.*.nupkg")));
        Assert.True(package.Length < MaxPackageBytes, $"{package.Name} is {package.Length / 1024.0 / 1024.0:0.0} MB, over 10 MB");
        using var zip = ZipFile.OpenRead(package.FullName);
        var files = zip.Entries.Select(e => e.FullName).ToList();
        Assert.Contains(files, f => f.EndsWith("/taskbudgets.dll", StringComparison.Ordinal));
        Assert.DoesNotContain(files, f => f.Contains("TaskBudgets.Governance", StringComparison.Ordinal) || f.Contains("EntityFrameworkCore", StringComparison.Ordinal));
        Assert.True(zip.Entries.Sum(e => e.Length) < MaxPackageBytes, "installed size over 10 MB");
    }
}
