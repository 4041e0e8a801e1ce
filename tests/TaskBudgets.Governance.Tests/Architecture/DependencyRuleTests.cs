using System.Reflection;
using NetArchTest.Rules;

namespace TaskBudgets.Governance.Tests.Architecture;

/// <summary>
/// The dependency rule of the README's "Repository layout": requests walk one way, from the API
/// through the use cases and the domain to storage, and no two folders import each other.
/// </summary>
public sealed class DependencyRuleTests
{
    private const string Root = "TaskBudgets.Governance";

    /// <summary>The server's folders, each one namespace under <see cref="Root"/>.</summary>
    private static readonly string[] Folders =
        ["Adaptive", "Admin", "Api", "Auth", "Budgeting", "Contract", "Grants", "Hosting", "Policies", "Quotas", "Storage", "Telemetry", "UsageHistory"];

    private static readonly Assembly[] Assemblies = [typeof(Program).Assembly, typeof(Storage.GovernanceDbContext).Assembly];

    [Fact]
    public void The_decision_and_the_calibration_statistics_import_no_application_folder()
    {
        AssertImportsNone("Budgeting", Folders.Where(f => f != "Budgeting"));
    }

    [Fact]
    public void Storage_imports_no_other_folder()
    {
        AssertImportsNone("Storage", Folders.Where(f => f != "Storage"));
        var references = typeof(Storage.GovernanceDbContext).Assembly.GetReferencedAssemblies().Select(a => a.Name);
        Assert.DoesNotContain(typeof(Program).Assembly.GetName().Name, references);
    }

    [Fact]
    public void Telemetry_imports_only_the_decision()
    {
        AssertImportsNone("Telemetry", Folders.Where(f => f is not ("Telemetry" or "Budgeting")));
    }

    [Fact]
    public void Only_the_composition_root_imports_the_api()
    {
        var result = Types.InAssemblies(Assemblies)
            .That().ResideInNamespace($"{Root}.")
            .And().DoNotResideInNamespace($"{Root}.Api")
            .And().DoNotResideInNamespace($"{Root}.Hosting")
            .ShouldNot().HaveDependencyOn($"{Root}.Api")
            .GetResult();
        Assert.True(result.IsSuccessful, $"these import Api: {string.Join(", ", result.FailingTypeNames ?? [])}");
    }

    [Fact]
    public void No_two_folders_import_each_other_even_through_others()
    {
        var imports = Folders.ToDictionary(f => f, f => Folders.Where(g => g != f && Imports(f, g)).ToHashSet(StringComparer.Ordinal));
        var cycle = FindCycle(imports);
        Assert.True(cycle is null, $"folders import each other: {string.Join(" -> ", cycle ?? [])}");
    }

    [Fact]
    public void The_rule_sees_a_real_import()
    {
        // Guards the checks above against passing on nothing: Grants does use Quotas and Storage.
        Assert.True(Imports("Grants", "Quotas"));
        Assert.True(Imports("Grants", "Storage"));
        Assert.False(Imports("Storage", "Grants"));
    }

    private static void AssertImportsNone(string folder, IEnumerable<string> forbidden)
    {
        var offenders = forbidden.Where(f => Imports(folder, f)).ToList();
        Assert.True(offenders.Count == 0, $"{folder} imports {string.Join(", ", offenders)}");
    }

    private static bool Imports(string from, string to) =>
        !Types.InAssemblies(Assemblies)
            .That().ResideInNamespace($"{Root}.{from}")
            .ShouldNot().HaveDependencyOn($"{Root}.{to}")
            .GetResult().IsSuccessful;

    private static List<string>? FindCycle(Dictionary<string, HashSet<string>> imports)
    {
        var state = new Dictionary<string, int>(StringComparer.Ordinal);
        var path = new List<string>();

        List<string>? Visit(string folder)
        {
            state[folder] = 1;
            path.Add(folder);
            foreach (var next in imports[folder].Order(StringComparer.Ordinal))
            {
                if (state.GetValueOrDefault(next) == 1)
                {
                    return [.. path.SkipWhile(f => f != next), next];
                }

                if (state.GetValueOrDefault(next) == 0 && Visit(next) is { } found)
                {
                    return found;
                }
            }

            state[folder] = 2;
            path.RemoveAt(path.Count - 1);
            return null;
        }

        foreach (var folder in imports.Keys.Order(StringComparer.Ordinal))
        {
            if (state.GetValueOrDefault(folder) == 0 && Visit(folder) is { } cycle)
            {
                return cycle;
            }
        }

        return null;
    }
}
