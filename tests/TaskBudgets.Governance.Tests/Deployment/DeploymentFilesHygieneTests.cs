using System.Text.RegularExpressions;

namespace TaskBudgets.Governance.Tests.Deployment;

/// <summary>What ships to operators (Dockerfile, chart, compose stack, operations guide) carries nothing of a developer's machine.</summary>
public sealed partial class DeploymentFilesHygieneTests
{
    private static IEnumerable<string> DeploymentFiles() =>
        new[] { "Dockerfile", ".dockerignore", Path.Combine("docs", "operations.md") }.Select(f => Path.Combine(Repository.Root, f))
            .Concat(new[] { "helm", "deploy" }.SelectMany(d => Directory.EnumerateFiles(Path.Combine(Repository.Root, d), "*", SearchOption.AllDirectories)))
            .Where(f => !f.EndsWith(Path.Combine("deploy", ".env"), StringComparison.Ordinal));

    [Fact]
    public void No_absolute_path_of_a_developer_machine() =>
        Assert.Empty(Offending(MachinePath()));

    [Fact]
    public void No_private_key_or_access_token() =>
        Assert.Empty(Offending(KeyMaterial()));

    private static List<string> Offending(Regex pattern) =>
        [.. DeploymentFiles().SelectMany(f => File.ReadLines(f).Select((line, i) => (f, line, i)))
            .Where(x => pattern.IsMatch(x.line))
            .Select(x => $"{Path.GetRelativePath(Repository.Root, x.f)}:{x.i + 1}: {x.line.Trim()}")];

    [GeneratedRegex("/(work|root|home/[a-z]+)/")]
    private static partial Regex MachinePath();

    [GeneratedRegex("BEGIN [A-Z ]*PRIVATE KEY|AKIA[0-9A-Z]{16}|gh[po]_[A-Za-z0-9]{30,}")]
    private static partial Regex KeyMaterial();
}
