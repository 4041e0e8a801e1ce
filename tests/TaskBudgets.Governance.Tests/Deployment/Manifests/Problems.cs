namespace TaskBudgets.Governance.Tests.Deployment.Manifests;

/// <summary>Collects every broken expectation of one test, so one run names them all.</summary>
public sealed class Problems
{
    private readonly List<string> found = [];

    public bool Expect(bool condition, string problem)
    {
        if (!condition)
        {
            found.Add(problem);
        }

        return condition;
    }

    public void AssertNone(string subject)
    {
        if (found.Count > 0)
        {
            throw new Xunit.Sdk.XunitException($"{subject}:\n  " + string.Join("\n  ", found));
        }
    }
}
