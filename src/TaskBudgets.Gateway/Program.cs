using Microsoft.Extensions.Options;
using TaskBudgets.Gateway.Hosting;

namespace TaskBudgets.Gateway;

/// <summary>The gateway's entry point: a reverse proxy that governs provider calls with TaskBudgets budgets.</summary>
public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        try
        {
            var app = Build(args);
            await app.RunAsync();
            return 0;
        }
        catch (OptionsValidationException invalid)
        {
            await Console.Error.WriteLineAsync("Configuration error: " + string.Join(Environment.NewLine, invalid.Failures));
            return 1;
        }
        catch (InvalidOperationException conversion) when (conversion.Source == "Microsoft.Extensions.Configuration.Binder")
        {
            // A value that does not convert (e.g. a port that is not a number): the binder names the key and the value.
            await Console.Error.WriteLineAsync($"Configuration error: {conversion.Message} {conversion.GetBaseException().Message}");
            return 1;
        }
    }

    /// <summary>The gateway's app, configured from <paramref name="args"/>, the environment and appsettings.json.</summary>
    public static WebApplication Build(string[] args)
    {
        var builder = WebApplication.CreateBuilder(args);
        builder.AddGateway();
        var app = builder.Build();
        app.MapGateway();
        return app;
    }
}
