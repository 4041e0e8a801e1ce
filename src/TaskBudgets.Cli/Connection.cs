using System.Text.Json;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Grpc.Net.Client;
using TaskBudgets.V1;

namespace TaskBudgets.Cli;

/// <summary>
/// Where the server is and which key to send: flags first, then the environment
/// (TASKBUDGETS_ADDRESS, TASKBUDGETS_API_KEY), then the config file
/// (~/.config/taskbudgets/config.json: {"address": "...", "api_key": "..."}).
/// </summary>
internal sealed class Connection : IDisposable
{
    public const string DefaultAddress = "http://localhost:8080";
    private static readonly JsonSerializerOptions SnakeCase = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };
    private readonly GrpcChannel channel;
    private readonly CallInvoker invoker;

    public Connection(string address, string key)
    {
        Address = address.Contains("://", StringComparison.Ordinal) ? address : "http://" + address;
        channel = GrpcChannel.ForAddress(Address);
        invoker = channel.Intercept(headers =>
        {
            headers.Add("authorization", "Bearer " + key);
            return headers;
        });
    }

    public string Address { get; }

    public AdminService.AdminServiceClient Admin => new(invoker);

    public BudgetService.BudgetServiceClient Budgets => new(invoker);

    /// <summary>Resolves the address and key from flags, environment and config file.</summary>
    public static Connection Open(string? addressFlag, string? keyFlag, string? configFlag, Func<string, string?> env)
    {
        ArgumentNullException.ThrowIfNull(env);
        var config = ReadConfig(configFlag ?? ConfigPath(env));
        var address = First(addressFlag, env("TASKBUDGETS_ADDRESS"), config.Address) ?? DefaultAddress;
        var key = First(keyFlag, env("TASKBUDGETS_API_KEY"), config.ApiKey)
            ?? throw new UsageException("No API key: pass --key, set TASKBUDGETS_API_KEY, or put \"api_key\" in ~/.config/taskbudgets/config.json.");
        return new Connection(address, key);
    }

    public void Dispose() => channel.Dispose();

    private static string? First(params string?[] values) => values.FirstOrDefault(v => !string.IsNullOrWhiteSpace(v))?.Trim();

    private static string ConfigPath(Func<string, string?> env)
    {
        var root = env("XDG_CONFIG_HOME") is { Length: > 0 } xdg
            ? xdg
            : Path.Combine(env("HOME") ?? Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".config");
        return Path.Combine(root, "taskbudgets", "config.json");
    }

    private static ConfigFile ReadConfig(string path)
    {
        if (!File.Exists(path))
        {
            return new ConfigFile();
        }

        try
        {
            return JsonSerializer.Deserialize<ConfigFile>(File.ReadAllText(path), SnakeCase) ?? new ConfigFile();
        }
        catch (JsonException e)
        {
            throw new UsageException($"The config file {path} is not valid JSON: {e.Message}");
        }
    }

    private sealed class ConfigFile
    {
        public string? Address { get; set; }

        public string? ApiKey { get; set; }
    }
}
