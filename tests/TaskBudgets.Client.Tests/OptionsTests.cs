using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace TaskBudgets.Client.Tests;

/// <summary>Options come from the "TaskBudgets" section and are checked when the host starts.</summary>
public sealed class OptionsTests
{
    private static IHost Host(Dictionary<string, string?> settings)
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Services.AddTaskBudgetsClient(builder.Configuration);
        return builder.Build();
    }

    [Fact]
    public void Every_setting_binds_from_the_TaskBudgets_section()
    {
        using var host = Host(new()
        {
            ["TaskBudgets:Address"] = "http://taskbudgets:8080",
            ["TaskBudgets:ApiKey"] = "tbk_abc",
            ["TaskBudgets:OrgId"] = "acme",
            ["TaskBudgets:Deadline"] = "00:00:01.500",
            ["TaskBudgets:MaxRetries"] = "4",
            ["TaskBudgets:InitialBackoff"] = "00:00:00.050",
            ["TaskBudgets:MaxBackoff"] = "00:00:02",
            ["TaskBudgets:Fallback:Mode"] = "FailOpen",
            ["TaskBudgets:Fallback:ReasoningTokens"] = "512",
            ["TaskBudgets:Fallback:MaxOutputTokens"] = "1024",
            ["TaskBudgets:Fallback:Effort"] = "Medium",
            ["TaskBudgets:Fallback:ModelFamilies:in-house-llm"] = "OpenAi",
        });

        var options = host.Services.GetRequiredService<IOptions<TaskBudgetsClientOptions>>().Value;

        Assert.Equal(new Uri("http://taskbudgets:8080"), options.Address);
        Assert.Equal(("tbk_abc", "acme"), (options.ApiKey, options.OrgId));
        Assert.Equal(TimeSpan.FromMilliseconds(1500), options.Deadline);
        Assert.Equal(4, options.MaxRetries);
        Assert.Equal((TimeSpan.FromMilliseconds(50), TimeSpan.FromSeconds(2)), (options.InitialBackoff, options.MaxBackoff));
        Assert.Equal((FallbackMode.FailOpen, 512L, 1024L, Effort.Medium), (options.Fallback.Mode, options.Fallback.ReasoningTokens, options.Fallback.MaxOutputTokens, options.Fallback.Effort));
        Assert.Equal(ModelFamily.OpenAi, options.Fallback.ModelFamilies["IN-HOUSE-LLM"]);
        Assert.NotNull(host.Services.GetRequiredService<IBudgetClient>());
    }

    [Fact]
    public void The_defaults_fail_closed_with_a_two_second_deadline_and_two_retries()
    {
        var options = new TaskBudgetsClientOptions();

        Assert.Equal(FallbackMode.FailClosed, options.Fallback.Mode);
        Assert.Equal(TimeSpan.FromSeconds(2), options.Deadline);
        Assert.Equal(2, options.MaxRetries);
        Assert.Equal((1024L, 2048L, Effort.Low), (options.Fallback.ReasoningTokens, options.Fallback.MaxOutputTokens, options.Fallback.Effort));
        Assert.Null(options.ApiKey);
    }

    [Fact]
    public async Task A_host_with_only_an_address_starts()
    {
        using var host = Host(new() { ["TaskBudgets:Address"] = "https://taskbudgets.internal" });

        await host.StartAsync(TestContext.Current.CancellationToken);
        await host.StopAsync(TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task Bad_options_stop_the_host_at_start_naming_each_setting()
    {
        using var host = Host(new()
        {
            ["TaskBudgets:Address"] = "taskbudgets:8080",
            ["TaskBudgets:ApiKey"] = "two words",
            ["TaskBudgets:Deadline"] = "00:00:00",
            ["TaskBudgets:MaxRetries"] = "11",
            ["TaskBudgets:Fallback:ReasoningTokens"] = "4096",
            ["TaskBudgets:Fallback:MaxOutputTokens"] = "1024",
        });

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync(TestContext.Current.CancellationToken));

        Assert.Equal(5, error.Failures.Count());
        foreach (var setting in new[] { "TaskBudgets:Address", "TaskBudgets:ApiKey", "TaskBudgets:Deadline", "TaskBudgets:MaxRetries", "TaskBudgets:Fallback:ReasoningTokens" })
        {
            Assert.Contains(error.Failures, f => f.StartsWith(setting + " ", StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task A_missing_address_stops_the_host_at_start()
    {
        using var host = Host(new());

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync(TestContext.Current.CancellationToken));

        Assert.Contains("TaskBudgets:Address is required", Assert.Single(error.Failures), StringComparison.Ordinal);
    }

    [Fact]
    public void Options_set_in_code_are_validated_too()
    {
        var services = new ServiceCollection();
        services.AddTaskBudgetsClient(o => o.Address = new Uri("http://localhost:8080"));
        services.AddTaskBudgetsClient(o => o.MaxBackoff = TimeSpan.Zero);
        using var provider = services.BuildServiceProvider();

        var error = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IBudgetClient>());

        Assert.Contains(error.Failures, f => f.StartsWith("TaskBudgets:MaxBackoff", StringComparison.Ordinal));
    }
}
