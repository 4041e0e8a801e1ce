namespace TaskBudgets.Testing;

/// <summary>Where the repository is, found from the running program's own folder.</summary>
public static class Repository
{
    public static string Root { get; } = Find();

    /// <summary>The configuration this program was built in (Release or Debug), from its own folder.</summary>
    public static string Configuration { get; } =
        AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}", StringComparison.Ordinal) ? "Release" : "Debug";

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "TaskBudgets.Governance.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("TaskBudgets.Governance.sln not found above " + AppContext.BaseDirectory + " (a program run from elsewhere takes --server-dll)");
    }
}
