namespace TaskBudgets.Governance.Tests.Deployment.Containers;

/// <summary>The repository's Dockerfile, its continued lines joined, read as far as this machine can act on it without a Docker engine.</summary>
public sealed class Dockerfile
{
    public Dockerfile(string path)
    {
        var joined = File.ReadAllText(path).Replace("\\\n", " ", StringComparison.Ordinal);
        Instructions = [.. joined.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#'))];
        var runtimeStart = Instructions.FindLastIndex(l => l.StartsWith("FROM ", StringComparison.Ordinal));
        Runtime = Instructions[runtimeStart..];
    }

    public static Dockerfile OfRepository { get; } = new(Path.Combine(Repository.Root, "Dockerfile"));

    /// <summary>Every instruction, in order, continuations joined and comments dropped.</summary>
    public List<string> Instructions { get; }

    /// <summary>The instructions of the last stage: the image that ships.</summary>
    public List<string> Runtime { get; }

    /// <summary>The runtime stage's ENV, as the container's environment.</summary>
    public Dictionary<string, string> Environment =>
        Runtime.Where(l => l.StartsWith("ENV ", StringComparison.Ordinal))
            .SelectMany(l => l[4..].Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Select(pair => pair.Split('=', 2))
            .ToDictionary(p => p[0], p => p.Length > 1 ? p[1] : "");

    /// <summary>The ports of EXPOSE, in order: gRPC first, then HTTP, as the Dockerfile's header says.</summary>
    public List<int> ExposedPorts =>
        [.. Runtime.Where(l => l.StartsWith("EXPOSE ", StringComparison.Ordinal)).SelectMany(l => l[7..].Split(' ', StringSplitOptions.RemoveEmptyEntries)).Select(p => int.Parse(p.Split('/')[0], System.Globalization.CultureInfo.InvariantCulture))];

    /// <summary>The runtime stage's HEALTHCHECK command; exec form only (a JSON array), since the image has no shell to run any other.</summary>
    public List<string> HealthCheck
    {
        get
        {
            var line = Runtime.Single(l => l.StartsWith("HEALTHCHECK ", StringComparison.Ordinal));
            var command = line.IndexOf(" CMD [", StringComparison.Ordinal);
            Assert.True(command > 0, "HEALTHCHECK is not in exec form (CMD [\"...\"]): " + line);
            return System.Text.Json.JsonSerializer.Deserialize<List<string>>(line[(command + 5)..])!;
        }
    }

    public string Only(string prefix) => Instructions.Single(l => l.StartsWith(prefix, StringComparison.Ordinal));
}
