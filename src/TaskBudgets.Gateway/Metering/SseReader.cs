using System.Text;

namespace TaskBudgets.Gateway.Metering;

/// <summary>
/// Splits a server-sent event stream into the data of its events as the bytes arrive (lines end in
/// LF, CRLF or CR; an event ends at a blank line; its data is its "data:" lines joined by LF).
/// </summary>
internal sealed class SseReader(Action<string> onEventData)
{
    // A line longer than this is not one the meter can use (providers' events are kilobytes):
    // it is dropped rather than buffered without bound.
    private const int MaxLineBytes = 4 * 1024 * 1024;
    private readonly List<byte> line = [];
    private readonly StringBuilder data = new();
    private bool hasData;
    private bool lineTooLong;
    private bool lastWasCr;

    public void Write(ReadOnlySpan<byte> bytes)
    {
        foreach (var b in bytes)
        {
            if (b == (byte)'\n' && lastWasCr)
            {
                lastWasCr = false;
                continue;
            }

            lastWasCr = b == (byte)'\r';
            if (b is (byte)'\n' or (byte)'\r')
            {
                EndLine();
            }
            else if (line.Count < MaxLineBytes)
            {
                line.Add(b);
            }
            else
            {
                lineTooLong = true;
            }
        }
    }

    /// <summary>The stream ended: an event without its blank line still counts.</summary>
    public void Complete()
    {
        if (line.Count > 0)
        {
            EndLine();
        }

        Dispatch();
    }

    private void EndLine()
    {
        if (line.Count == 0 && !lineTooLong)
        {
            Dispatch();
            return;
        }

        if (!lineTooLong)
        {
            var text = Encoding.UTF8.GetString([.. line]);
            if (text.StartsWith("data:", StringComparison.Ordinal))
            {
                var value = text.AsSpan(5);
                if (value.Length > 0 && value[0] == ' ')
                {
                    value = value[1..];
                }

                if (hasData)
                {
                    data.Append('\n');
                }

                data.Append(value);
                hasData = true;
            }
        }

        line.Clear();
        lineTooLong = false;
    }

    private void Dispatch()
    {
        if (hasData)
        {
            onEventData(data.ToString());
        }

        data.Clear();
        hasData = false;
    }
}
