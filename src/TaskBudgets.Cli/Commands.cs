using System.CommandLine;
using System.Globalization;
using Google.Protobuf.WellKnownTypes;
using Option = System.CommandLine.Option;
using TaskBudgets.V1;

namespace TaskBudgets.Cli;

/// <summary>The subcommands. Each maps its flags onto one RPC (or a few, for lists and apply) and prints the answer.</summary>
internal sealed partial class Commands(CliApp.Globals globals, TextWriter stdout, TextWriter stderr, Func<string, string?> env)
{
    private const int PageSize = 1000;

    public IEnumerable<Command> All() =>
    [
        Orgs(), Tiers(), Quotas(), Models(), Keys(), Usage(), Simulate(), Budget(), Audit(), Apply(), Calibration(),
    ];

    private static Argument<string> Arg(string name, string description) => new(name) { Description = description };

    private static Option<string?> Opt(string name, string description) => new(name) { Description = description };

    private static Option<string> Choice(string name, string description, string defaultValue, params string[] values)
    {
        var option = new Option<string>(name) { Description = description, DefaultValueFactory = _ => defaultValue };
        option.AcceptOnlyFromAmong(values);
        return option;
    }

    private static Command Group(string name, string description, params Command[] children)
    {
        var group = new Command(name, description);
        foreach (var child in children)
        {
            group.Subcommands.Add(child);
        }

        return group;
    }

    private Command Leaf(string name, string description, Func<ParseResult, CliApp.Session, CancellationToken, Task<int>> body, params Symbol[] symbols)
    {
        var command = new Command(name, description);
        foreach (var symbol in symbols)
        {
            switch (symbol)
            {
                case Option option:
                    command.Options.Add(option);
                    break;
                case Argument argument:
                    command.Arguments.Add(argument);
                    break;
            }
        }

        command.SetAction(async (parse, cancellationToken) =>
        {
            var output = new Output(stdout, stderr, parse.GetValue(globals.Format) == "json");
            using var session = new CliApp.Session(output, () => Connection.Open(globals.Read(parse), env));
            return await CliApp.ExecuteAsync(session, s => body(parse, s, cancellationToken));
        });
        return command;
    }

    private static string Time(Timestamp? t) => t is null ? "-" : t.ToDateTimeOffset().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    private static string N(long value) => value.ToString("N0", CultureInfo.InvariantCulture);

    private static string Usd(long micros) => (micros / 1_000_000m).ToString("0.######", CultureInfo.InvariantCulture);

    private static long Micros(decimal usd) => (long)decimal.Round(usd * 1_000_000m, MidpointRounding.AwayFromZero);

    /// <summary>An enum value's proto name without its prefix, in lower case: EFFORT_HIGH is "high".</summary>
    private static string Lower(System.Enum value, string prefix)
    {
        var member = value.GetType().GetField(value.ToString());
        var name = member?.GetCustomAttributes(typeof(Google.Protobuf.Reflection.OriginalNameAttribute), false).OfType<Google.Protobuf.Reflection.OriginalNameAttribute>().FirstOrDefault()?.Name ?? value.ToString();
        return (name.StartsWith(prefix, StringComparison.Ordinal) ? name[prefix.Length..] : name).ToLowerInvariant();
    }

    private static Timestamp? When(string? text, string flag)
    {
        if (string.IsNullOrEmpty(text))
        {
            return null;
        }

        return DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at)
            ? Timestamp.FromDateTimeOffset(at)
            : throw new UsageException($"{flag}: '{text}' is not a time (use ISO 8601, e.g. 2026-03-10T12:00:00Z).");
    }

    private static T Parse<T>(string text, string flag, IReadOnlyDictionary<string, T> values) =>
        values.TryGetValue(text, out var value) ? value : throw new UsageException($"{flag} must be one of {string.Join(", ", values.Keys)}, not '{text}'.");

    private static readonly Dictionary<string, QuotaScope> Scopes = new() { ["org"] = QuotaScope.Org, ["project"] = QuotaScope.Project, ["principal"] = QuotaScope.Principal };

    private static readonly Dictionary<string, QuotaMetric> Metrics = new()
    {
        ["reasoning_tokens"] = QuotaMetric.ReasoningTokens,
        ["output_tokens"] = QuotaMetric.OutputTokens,
        ["total_tokens"] = QuotaMetric.TotalTokens,
        ["requests"] = QuotaMetric.Requests,
        ["cost_micros"] = QuotaMetric.CostMicros,
    };

    private static readonly Dictionary<string, QuotaWindow> Windows = new() { ["minute"] = QuotaWindow.Minute, ["hour"] = QuotaWindow.Hour, ["day"] = QuotaWindow.Day, ["month"] = QuotaWindow.Month };

    /// <summary>The metric's name as the policy file and --metric give it; empty for none.</summary>
    private static string MetricName(QuotaMetric metric) => Metrics.Where(m => m.Value == metric).Select(m => m.Key).FirstOrDefault() ?? string.Empty;

    /// <summary>The window's name as the policy file and --window give it; empty for none.</summary>
    private static string WindowName(QuotaWindow window) => Windows.Where(w => w.Value == window).Select(w => w.Key).FirstOrDefault() ?? string.Empty;

    private static readonly Dictionary<string, ApiKeyRole> Roles = new() { ["caller"] = ApiKeyRole.Caller, ["org-admin"] = ApiKeyRole.OrgAdmin, ["admin"] = ApiKeyRole.Admin };

    private static readonly Dictionary<string, ModelFamily> Families = new() { ["anthropic"] = ModelFamily.Anthropic, ["openai"] = ModelFamily.Openai, ["gemini"] = ModelFamily.Gemini };
}
