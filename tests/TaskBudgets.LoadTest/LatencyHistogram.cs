using System.Diagnostics;
using System.Numerics;

namespace TaskBudgets.LoadTest;

/// <summary>
/// A log-linear latency histogram in the manner of HdrHistogram: exact below 256 µs, then 128
/// sub-buckets per power of two, so any recorded value is reported at most 0.8 % too high (values
/// are reported as the upper edge of their bucket: never rounded in the measured code's favour).
/// Not thread-safe: each worker records into its own and they are merged at the end.
/// </summary>
internal sealed class LatencyHistogram
{
    private const int SubBits = 8;
    private const int Linear = 1 << SubBits;          // 256 exact values
    private const int Half = Linear / 2;              // 128 sub-buckets per power of two above them
    private const int MaxShift = 40;                  // 2^47 µs: four years; anything above is clamped
    private readonly long[] counts = new long[Linear + (MaxShift * Half)];

    public long Count { get; private set; }

    public long MaxMicros { get; private set; }

    public double SumMicros { get; private set; }

    public void RecordTicks(long stopwatchTicks) => Record(stopwatchTicks * 1_000_000 / Stopwatch.Frequency);

    public void Record(long micros)
    {
        micros = Math.Max(0, micros);
        counts[IndexOf(micros)]++;
        Count++;
        SumMicros += micros;
        MaxMicros = Math.Max(MaxMicros, micros);
    }

    public void Add(LatencyHistogram other)
    {
        ArgumentNullException.ThrowIfNull(other);
        for (var i = 0; i < counts.Length; i++)
        {
            counts[i] += other.counts[i];
        }

        Count += other.Count;
        SumMicros += other.SumMicros;
        MaxMicros = Math.Max(MaxMicros, other.MaxMicros);
    }

    /// <summary>The value at or below which <paramref name="quantile"/> of the recorded values lie (upper bucket edge), in µs.</summary>
    public long Percentile(double quantile)
    {
        if (Count == 0)
        {
            return 0;
        }

        var rank = Math.Max(1, (long)Math.Ceiling(quantile * Count));
        long seen = 0;
        for (var i = 0; i < counts.Length; i++)
        {
            seen += counts[i];
            if (seen >= rank)
            {
                return Math.Min(UpperEdge(i), MaxMicros);
            }
        }

        return MaxMicros;
    }

    public double MeanMicros => Count == 0 ? 0 : SumMicros / Count;

    internal static int IndexOf(long micros)
    {
        if (micros < Linear)
        {
            return (int)micros;
        }

        var shift = Math.Min(MaxShift, (63 - BitOperations.LeadingZeroCount((ulong)micros)) - (SubBits - 1));
        var sub = Math.Min(Linear - 1, micros >> shift);   // 128..255
        return (shift * Half) + (int)sub;
    }

    internal static long UpperEdge(int index)
    {
        if (index < Linear)
        {
            return index;
        }

        var shift = (index / Half) - 1;
        var sub = (index % Half) + Half;
        return ((sub + 1L) << shift) - 1;
    }
}
