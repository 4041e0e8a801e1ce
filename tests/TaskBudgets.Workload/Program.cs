namespace TaskBudgets.Workload;

/// <summary>The workload driver's entry point; the run itself is <see cref="WorkloadRun"/>.</summary>
internal static class Program
{
    public static async Task<int> Main(string[] args)
    {
        if (args.Contains("--help") || args.Contains("-h"))
        {
            Console.WriteLine(WorkloadOptions.Usage);
            return 0;
        }

        WorkloadOptions options;
        try
        {
            options = WorkloadOptions.Parse(args, Environment.GetEnvironmentVariable);
        }
        catch (ArgumentException e)
        {
            await Console.Error.WriteLineAsync("error: " + e.Message + "\n\n" + WorkloadOptions.Usage);
            return 1;
        }

        using var cancel = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            cancel.Cancel();
        };
        return await WorkloadRun.MainAsync(options, Console.Out, Console.Error, cancel.Token);
    }
}
