namespace TaskBudgets.Governance.Tests.Infrastructure;

/// <summary>Finds a tool on the PATH; a missing one fails the test that needs it, saying how to get it.</summary>
public static class ToolPath
{
    public static string? Find(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(directory => Path.Combine(directory, name))
            .FirstOrDefault(File.Exists);

    /// <exception cref="InvalidOperationException">The tool is not on the PATH.</exception>
    public static string Require(string name, string why) =>
        Find(name) ?? throw new InvalidOperationException($"{name} is not on the PATH; it is needed {why}.");
}
