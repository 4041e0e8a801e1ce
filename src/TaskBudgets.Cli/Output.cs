using Google.Protobuf;

namespace TaskBudgets.Cli;

/// <summary>What a command prints: an aligned table for people, or the response as JSON for scripts.</summary>
public sealed class Output(TextWriter stdout, TextWriter stderr, bool json)
{
    private static readonly JsonFormatter Formatter = new(JsonFormatter.Settings.Default.WithPreserveProtoFieldNames(true).WithIndentation());

    public bool Json { get; } = json;

    public TextWriter Out { get; } = stdout;

    public TextWriter Error { get; } = stderr;

    /// <summary>Prints <paramref name="message"/> as JSON, or the table <paramref name="table"/> builds.</summary>
    public void Write(IMessage message, Action table)
    {
        ArgumentNullException.ThrowIfNull(table);
        if (Json)
        {
            Out.WriteLine(Formatter.Format(message));
        }
        else
        {
            table();
        }
    }

    public void Table(IReadOnlyList<string> headers, IEnumerable<IReadOnlyList<string>> rows)
    {
        var all = rows.ToList();
        var widths = headers.Select((h, i) => Math.Max(h.Length, all.Count == 0 ? 0 : all.Max(r => r[i].Length))).ToArray();
        Out.WriteLine(Line(headers, widths));
        foreach (var row in all)
        {
            Out.WriteLine(Line(row, widths));
        }
    }

    /// <summary>Name/value lines for one resource.</summary>
    public void Fields(params (string Name, string Value)[] fields)
    {
        var width = fields.Max(f => f.Name.Length);
        foreach (var (name, value) in fields)
        {
            Out.WriteLine($"{name.PadRight(width)}  {value}");
        }
    }

    private static string Line(IReadOnlyList<string> cells, int[] widths) =>
        string.Join("  ", cells.Select((c, i) => i == cells.Count - 1 ? c : c.PadRight(widths[i]))).TrimEnd();
}
