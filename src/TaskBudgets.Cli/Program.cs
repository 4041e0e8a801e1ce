namespace TaskBudgets.Cli;

/// <summary>The `taskbudgets` tool's entry point; everything else is <see cref="CliApp"/>.</summary>
internal static class Program
{
    public static Task<int> Main(string[] args) =>
        CliApp.RunAsync(args, Console.Out, Console.Error, Environment.GetEnvironmentVariable, CancellationToken.None);
}
