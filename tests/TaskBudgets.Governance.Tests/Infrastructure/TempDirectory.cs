namespace TaskBudgets.Governance.Tests.Infrastructure;

/// <summary>A folder of a test's own, removed afterwards.</summary>
public sealed class TempDirectory : IDisposable
{
    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "tb-" + Guid.NewGuid().ToString("N")[..12]);

    public TempDirectory() => Directory.CreateDirectory(Path);

    /// <summary>Writes the test policy here and returns the settings that make a server use it.</summary>
    public Dictionary<string, string> WithTestPolicy(string policy = TestPolicy.Yaml)
    {
        var file = System.IO.Path.Combine(Path, "policy.yaml");
        File.WriteAllText(file, policy);
        return new Dictionary<string, string> { ["Policy:File"] = file, ["Policy:ApplyOnStart"] = "Always" };
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // A file still held by a dying process: the machine's temp cleaning takes it.
        }
    }
}
