using System.Net;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using TaskBudgets.V1;

namespace TaskBudgets.LoadTest;

/// <summary>
/// The transport's ceiling: a minimal Kestrel gRPC server (AddGrpc, one service, no logging, no
/// middleware) answering GetBudget and ReportUsage with canned replies copied from the real server,
/// so a call moves the same bytes both ways and does nothing else. The generator runs it as a
/// child process of its own (<c>--serve-bare</c>), so its CPU time is its own.
/// </summary>
internal static class BareServer
{
    public const string Flag = "--serve-bare";

    /// <summary>Serves on a free loopback port, prints "port N" once listening, and runs until killed or stdin closes.</summary>
    /// <param name="args">The GetBudget reply file and the ReportUsage reply file (protobuf bytes).</param>
    public static async Task<int> RunAsync(string[] args)
    {
        var budget = GetBudgetResponse.Parser.ParseFrom(await File.ReadAllBytesAsync(args[0]));
        var receipt = ReportUsageResponse.Parser.ParseFrom(await File.ReadAllBytesAsync(args[1]));
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, o => o.Protocols = HttpProtocols.Http2));
        builder.Services.AddGrpc();
        builder.Services.AddSingleton(new CannedBudgets(budget, receipt));
        var app = builder.Build();
        app.MapGrpcService<CannedBudgets>();
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        Console.WriteLine("port " + new Uri(address).Port.ToString(System.Globalization.CultureInfo.InvariantCulture));

        // The generator closes stdin (or dies) when it is done.
        await Console.In.ReadToEndAsync();
        await app.StopAsync();
        return 0;
    }

    private sealed class CannedBudgets(GetBudgetResponse budget, ReportUsageResponse receipt) : BudgetService.BudgetServiceBase
    {
        public override Task<GetBudgetResponse> GetBudget(GetBudgetRequest request, ServerCallContext context) => Task.FromResult(budget);

        public override Task<ReportUsageResponse> ReportUsage(ReportUsageRequest request, ServerCallContext context) => Task.FromResult(receipt);
    }
}
