using System.Text;
using System.Text.Json;

namespace TaskBudgets.Gateway.Metering;

/// <summary>
/// Sees the bytes of one answer as they pass to the caller and feeds its meter: each event of a
/// server-sent event stream as it completes, or a plain JSON answer (an object, or an array of
/// objects as Gemini's non-SSE stream is) once it has ended. It never holds the answer back.
/// </summary>
internal sealed class AnswerTap
{
    private readonly UsageMeter meter;
    private readonly SseReader? events;
    private readonly int maxBuffered;
    private MemoryStream? buffered;
    private bool overflowed;

    public AnswerTap(UsageMeter meter, bool serverSentEvents, int maxBuffered)
    {
        this.meter = meter;
        this.maxBuffered = maxBuffered;
        if (serverSentEvents)
        {
            events = new SseReader(ObserveText);
        }
    }

    /// <summary>The bytes that passed so far.</summary>
    public long Bytes { get; private set; }

    /// <summary>Whether the answer ended (its last byte passed).</summary>
    public bool Ended { get; private set; }

    public void Write(ReadOnlySpan<byte> bytes)
    {
        Bytes += bytes.Length;
        if (events is not null)
        {
            events.Write(bytes);
            return;
        }

        if (overflowed)
        {
            return;
        }

        buffered ??= new MemoryStream();
        if (buffered.Length + bytes.Length > maxBuffered)
        {
            // Past the limit the usage is not read; the call is still reported, with what is known.
            overflowed = true;
            buffered = null;
            return;
        }

        buffered.Write(bytes);
    }

    /// <summary>The answer's last byte passed.</summary>
    public void End()
    {
        Ended = true;
        Flush();
    }

    /// <summary>Reads what is complete of an answer that stopped early (the caller left, the upstream broke).</summary>
    public void Flush()
    {
        events?.Complete();
        if (buffered is { Length: > 0 } whole)
        {
            Observe(whole.GetBuffer().AsMemory(0, (int)whole.Length));
            buffered = null;
        }
    }

    private void ObserveText(string data)
    {
        if (data.Length > 0 && data[0] is '{' or '[')
        {
            Observe(Encoding.UTF8.GetBytes(data));
        }
    }

    private void Observe(ReadOnlyMemory<byte> json)
    {
        try
        {
            using var document = JsonDocument.Parse(json);
            if (document.RootElement.ValueKind == JsonValueKind.Array)
            {
                foreach (var item in document.RootElement.EnumerateArray())
                {
                    meter.Observe(item);
                }
            }
            else
            {
                meter.Observe(document.RootElement);
            }
        }
        catch (JsonException)
        {
            // Not JSON (an upstream's HTML error page, a cut event): there is no usage in it.
        }
    }
}
