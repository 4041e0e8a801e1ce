using Microsoft.Extensions.Options;

namespace TaskBudgets.Governance.Hosting;

/// <summary>Checks Server:Tls at start, files included: a missing or unreadable one stops the start with one line naming it.</summary>
internal sealed class ServerTlsValidator : IValidateOptions<ServerOptions>
{
    public ValidateOptionsResult Validate(string? name, ServerOptions options) =>
        ServerCertificates.Check(options.Tls) is { } problem ? ValidateOptionsResult.Fail(problem) : ValidateOptionsResult.Success;
}
