using System.CommandLine;
using Google.Rpc;
using Grpc.Core;
using TaskBudgets.Policies;

namespace TaskBudgets.Cli;

/// <summary>The `taskbudgets` command line: every admin operation, usage, simulation, a quick budget call, and apply.</summary>
public static class CliApp
{
    /// <summary>Runs one command line; returns its exit code (see <see cref="ExitCodes"/>).</summary>
    /// <param name="env">Reads an environment variable (TASKBUDGETS_ADDRESS, TASKBUDGETS_API_KEY, TASKBUDGETS_CA_CERT, TASKBUDGETS_CLIENT_CERT, TASKBUDGETS_CLIENT_KEY, HOME, XDG_CONFIG_HOME).</param>
    public static async Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr, Func<string, string?> env, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stdout);
        ArgumentNullException.ThrowIfNull(stderr);
        var globals = new Globals();
        var root = new RootCommand("taskbudgets: the TaskBudgets Governance admin CLI.\nAddress and key: --address/--key, TASKBUDGETS_ADDRESS/TASKBUDGETS_API_KEY, or ~/.config/taskbudgets/config.json.\nTLS: an https:// address; --ca-cert (TASKBUDGETS_CA_CERT) to trust a private CA, --client-cert/--client-key (TASKBUDGETS_CLIENT_CERT/TASKBUDGETS_CLIENT_KEY) for mTLS.\nExit codes: 0 ok, 1 usage, 2 not found, 3 permission/auth, 4 conflict/aborted, 5 unavailable, 10 other.");
        root.Options.Add(globals.Address);
        root.Options.Add(globals.Key);
        root.Options.Add(globals.Config);
        root.Options.Add(globals.CaCert);
        root.Options.Add(globals.ClientCert);
        root.Options.Add(globals.ClientKey);
        root.Options.Add(globals.Format);
        var commands = new Commands(globals, stdout, stderr, env);
        foreach (var command in commands.All())
        {
            root.Subcommands.Add(command);
        }

        var parse = root.Parse(args);
        return await parse.InvokeAsync(new InvocationConfiguration { Output = stdout, Error = stderr }, cancellationToken);
    }

    /// <summary>Options every command takes.</summary>
    internal sealed class Globals
    {
        public Option<string?> Address { get; } = new("--address") { Description = "Server gRPC address, e.g. http://localhost:8080 or https://governance.example:8080 (env TASKBUDGETS_ADDRESS).", Recursive = true };

        public Option<string?> CaCert { get; } = new("--ca-cert") { Description = "PEM CA bundle to trust for an https:// address instead of the system's (env TASKBUDGETS_CA_CERT).", Recursive = true };

        public Option<string?> ClientCert { get; } = new("--client-cert") { Description = "PEM client certificate for mTLS; needs --client-key (env TASKBUDGETS_CLIENT_CERT).", Recursive = true };

        public Option<string?> ClientKey { get; } = new("--client-key") { Description = "PEM private key of --client-cert (env TASKBUDGETS_CLIENT_KEY).", Recursive = true };

        public Option<string?> Key { get; } = new("--key") { Description = "API key (env TASKBUDGETS_API_KEY).", Recursive = true };

        public Option<string?> Config { get; } = new("--config") { Description = "Config file (default ~/.config/taskbudgets/config.json).", Recursive = true };

        public Option<string> Format { get; } = CreateFormat();

        public ConnectionFlags Read(ParseResult parse) =>
            new(parse.GetValue(Address), parse.GetValue(Key), parse.GetValue(Config), parse.GetValue(CaCert), parse.GetValue(ClientCert), parse.GetValue(ClientKey));

        private static Option<string> CreateFormat()
        {
            var option = new Option<string>("--output", "-o") { Description = "table (default) or json.", Recursive = true, DefaultValueFactory = _ => "table" };
            option.AcceptOnlyFromAmong("table", "json");
            return option;
        }
    }

    /// <summary>The connection flags as given (null where not given).</summary>
    internal sealed record ConnectionFlags(string? Address, string? Key, string? Config, string? CaCert, string? ClientCert, string? ClientKey);

    /// <summary>One run of a command: its output and a lazily opened connection.</summary>
    internal sealed class Session(Output output, Func<Connection> connect) : IDisposable
    {
        private Connection? connection;

        public Output Output { get; } = output;

        public Connection Server => connection ??= connect();

        public void Dispose() => connection?.Dispose();
    }

    /// <summary>Runs a command's body, turning every failure into its message and exit code.</summary>
    internal static async Task<int> ExecuteAsync(Session session, Func<Session, Task<int>> body)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentNullException.ThrowIfNull(body);
        var error = session.Output.Error;
        try
        {
            return await body(session);
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.Internal && ConnectionFailure(e.Status.DebugException) is { } failure)
        {
            // grpc-dotnet reports a failed TLS handshake (or a connection the server closed during
            // it, as it does for a missing client certificate) as INTERNAL: for a script it is a server it cannot reach.
            await error.WriteLineAsync($"error: no connection to {session.Server.Address}: {failure.Message} (a private CA: --ca-cert; mTLS: --client-cert and --client-key)");
            return ExitCodes.Unavailable;
        }
        catch (RpcException e)
        {
            var status = e.GetRpcStatus();
            var reason = status?.GetDetail<ErrorInfo>()?.Reason;
            await error.WriteLineAsync($"error: {e.StatusCode}{(reason is null ? string.Empty : $" ({reason})")}: {status?.Message ?? e.Status.Detail}");
            foreach (var v in status?.GetDetail<BadRequest>()?.FieldViolations ?? [])
            {
                await error.WriteLineAsync($"  {v.Field}: {v.Description}");
            }

            if (status?.GetDetail<RetryInfo>() is { } retry)
            {
                await error.WriteLineAsync($"  retry after {retry.RetryDelay.ToTimeSpan()}");
            }

            return ExitCodes.For(e.StatusCode);
        }
        catch (NoKeyException e)
        {
            await error.WriteLineAsync("error: " + e.Message);
            return ExitCodes.Permission;
        }
        catch (UsageException e)
        {
            await error.WriteLineAsync("error: " + e.Message);
            return ExitCodes.Usage;
        }
        catch (PolicyException e)
        {
            await error.WriteLineAsync("error: the policy file is invalid:");
            foreach (var problem in e.Errors)
            {
                await error.WriteLineAsync("  " + problem);
            }

            return ExitCodes.Usage;
        }
        catch (IOException e)
        {
            await error.WriteLineAsync("error: " + e.Message);
            return ExitCodes.Usage;
        }
    }

    /// <summary>The TLS or transport failure under a call's error, if that is what it is.</summary>
    private static Exception? ConnectionFailure(Exception? e)
    {
        for (var inner = e; inner is not null; inner = inner.InnerException)
        {
            // Under INTERNAL, any HttpRequestException means the call never got a response: a server
            // that ends the connection over a refused client certificate shows as an HTTP/2
            // handshake it "did not complete" as often as an IOException, depending on timing.
            if (inner is System.Security.Authentication.AuthenticationException or IOException or HttpRequestException)
            {
                return inner;
            }
        }

        return null;
    }
}
