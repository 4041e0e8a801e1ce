namespace TaskBudgets.Governance.Budgeting.Calibration;

/// <summary>
/// A mergeable quantile sketch of token counts: logarithmic bins (each 2% wider than the last, so
/// any quantile is within 2% of the truth, like DDSketch), holding weights rather than counts so
/// that decay is a weight. Each bin keeps two weights: calls that completed with a value in the
/// bin, and calls that were truncated (censored: they only say the need was more than the value).
/// Merging is adding bin by bin, so a merge of two sketches is the sketch of the union.
/// A third weight per bin marks delayed entries: calls known to need more than the bin's values
/// before they were observed (a retry after a truncation), which join the risk set only above it.
/// </summary>
public sealed class UsageSketch
{
    /// <summary>Ratio between consecutive bin edges; the sketch's relative accuracy.</summary>
    public const double Gamma = 1.02;

    /// <summary>Values above this (2^27 tokens) share the last bin.</summary>
    public const long MaxValue = 1L << 27;

    private static readonly double LogGamma = Math.Log(Gamma);

    /// <summary>Bins: 0 holds zero, bin i (i >= 1) holds values in (Gamma^(i-1), Gamma^i].</summary>
    public static readonly int BinCount = IndexOf(MaxValue) + 1;

    private double[] completed = [];
    private double[] censored = [];
    private double[] entered = [];

    /// <summary>Bins in use: every bin at or past this one is empty.</summary>
    public int Length => completed.Length;

    public double TotalWeight
    {
        get
        {
            var total = 0.0;
            for (var i = 0; i < completed.Length; i++)
            {
                total += completed[i] + censored[i];
            }

            return total;
        }
    }

    /// <summary>Weight of the calls that completed (not truncated).</summary>
    public double CompletedWeight => completed.Sum();

    /// <summary>Weight of the delayed entries: calls that continue one counted before.</summary>
    public double EnteredWeight => entered.Sum();

    /// <summary>The bin that holds <paramref name="value"/>.</summary>
    public static int IndexOf(long value)
    {
        if (value <= 0)
        {
            return 0;
        }

        var index = (int)Math.Ceiling((Math.Log(Math.Min(value, MaxValue)) / LogGamma) - 1e-9);
        return Math.Max(1, index);
    }

    /// <summary>
    /// The bin's upper edge, in whole tokens: a budget of this many tokens covers every need in the
    /// bin, which is why budgets are chosen on these edges.
    /// </summary>
    public static long UpperEdge(int index) =>
        index <= 0 ? 0 : Math.Max(1, (long)Math.Ceiling(Math.Pow(Gamma, index) - 1e-9));

    /// <summary>A call that completed having used <paramref name="value"/> tokens.</summary>
    public void AddCompleted(long value, double weight) => Add(IndexOf(value), weight, 0);

    /// <summary>A call that was truncated at <paramref name="value"/> tokens: it needed more.</summary>
    public void AddCensored(long value, double weight) => Add(IndexOf(value), 0, weight);

    /// <summary>
    /// Marks a call counted with <see cref="AddCompleted"/> or <see cref="AddCensored"/> at
    /// <paramref name="value"/> as known to need more than <paramref name="after"/> before it was
    /// observed: it enters the risk set only past the bin of <paramref name="after"/> (and never
    /// past its own value's bin, where it is observed).
    /// </summary>
    public void AddEntry(long after, long value, double weight)
    {
        var at = Math.Min(IndexOf(after), IndexOf(value) - 1);
        if (at >= 0)
        {
            Add(at, 0, 0, weight);
        }
    }

    public double CompletedAt(int index) => index < completed.Length ? completed[index] : 0;

    /// <summary>Weight of the calls that enter the risk set just past bin <paramref name="index"/>.</summary>
    public double EnteredAt(int index) => index < entered.Length ? entered[index] : 0;

    public double CensoredAt(int index) => index < censored.Length ? censored[index] : 0;

    /// <summary>Adds every bin of <paramref name="other"/>, each weight times <paramref name="scale"/>.</summary>
    public void Merge(UsageSketch other, double scale = 1.0)
    {
        ArgumentNullException.ThrowIfNull(other);
        Grow(other.completed.Length);
        for (var i = 0; i < other.completed.Length; i++)
        {
            completed[i] += other.completed[i] * scale;
            censored[i] += other.censored[i] * scale;
            entered[i] += other.entered[i] * scale;
        }
    }

    /// <summary>
    /// Takes out the calls of <paramref name="other"/>, a sketch of some of the calls added here:
    /// what is left describes the rest. A bin never goes below 0 (rounding of decayed weights).
    /// </summary>
    public void Subtract(UsageSketch other)
    {
        ArgumentNullException.ThrowIfNull(other);
        var length = Math.Min(completed.Length, other.completed.Length);
        for (var i = 0; i < length; i++)
        {
            completed[i] = Math.Max(0, completed[i] - other.completed[i]);
            censored[i] = Math.Max(0, censored[i] - other.censored[i]);
            entered[i] = Math.Max(0, entered[i] - other.entered[i]);
        }
    }

    /// <summary>
    /// Adds every bin of <paramref name="other"/> with its values divided by <paramref name="divisor"/>:
    /// whole bins move (to the sketch's accuracy), so a call that used 2,000 tokens under a hint
    /// that doubles needs counts as 1,000.
    /// </summary>
    public void MergeScaled(UsageSketch other, double divisor)
    {
        ArgumentNullException.ThrowIfNull(other);
        var shift = (int)Math.Round(-Math.Log(divisor) / LogGamma);
        for (var i = 0; i < other.completed.Length; i++)
        {
            if (other.completed[i] != 0 || other.censored[i] != 0 || other.entered[i] != 0)
            {
                Add(i == 0 ? 0 : Math.Clamp(i + shift, 1, BinCount - 1), other.completed[i], other.censored[i], other.entered[i]);
            }
        }
    }

    /// <summary>Multiplies every weight by <paramref name="factor"/> (decay, or a change of landmark).</summary>
    public void Scale(double factor)
    {
        for (var i = 0; i < completed.Length; i++)
        {
            completed[i] *= factor;
            censored[i] *= factor;
            entered[i] *= factor;
        }
    }

    public UsageSketch Clone()
    {
        var copy = new UsageSketch();
        copy.Merge(this);
        return copy;
    }

    /// <summary>
    /// The naive quantile: every call counted at its value, truncated ones as if they had needed
    /// only what they got. Biased low where calls truncate; <see cref="SurvivalCurve"/> is not.
    /// </summary>
    public long NaiveQuantile(double q)
    {
        var total = TotalWeight;
        if (total <= 0)
        {
            return 0;
        }

        var running = 0.0;
        for (var i = 0; i < completed.Length; i++)
        {
            running += completed[i] + censored[i];
            if (running >= q * total)
            {
                return UpperEdge(i);
            }
        }

        return UpperEdge(completed.Length - 1);
    }

    /// <summary>
    /// Writes the non-empty bins: count, then (index, completed, censored) for each, and with
    /// <paramref name="withEntries"/> the bin's delayed entries after those two.
    /// </summary>
    public void Write(BinaryWriter writer, bool withEntries = true)
    {
        ArgumentNullException.ThrowIfNull(writer);
        var used = 0;
        for (var i = 0; i < completed.Length; i++)
        {
            if (Used(i, withEntries))
            {
                used++;
            }
        }

        writer.Write(used);
        for (var i = 0; i < completed.Length; i++)
        {
            if (Used(i, withEntries))
            {
                writer.Write((ushort)i);
                writer.Write(completed[i]);
                writer.Write(censored[i]);
                if (withEntries)
                {
                    writer.Write(entered[i]);
                }
            }
        }
    }

    /// <param name="withEntries">The bytes hold delayed entries (written with them).</param>
    /// <exception cref="FormatException">The bytes are not a sketch.</exception>
    public static UsageSketch Read(BinaryReader reader, bool withEntries = true)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var sketch = new UsageSketch();
        var used = reader.ReadInt32();
        if (used < 0 || used > BinCount)
        {
            throw new FormatException($"A sketch has 0..{BinCount} bins, not {used}.");
        }

        for (var n = 0; n < used; n++)
        {
            int index = reader.ReadUInt16();
            var done = reader.ReadDouble();
            var cut = reader.ReadDouble();
            var entry = withEntries ? reader.ReadDouble() : 0;
            if (index >= BinCount || !double.IsFinite(done) || !double.IsFinite(cut) || !double.IsFinite(entry) || done < 0 || cut < 0 || entry < 0)
            {
                throw new FormatException($"Bad sketch bin {index}.");
            }

            sketch.Add(index, done, cut, entry);
        }

        return sketch;
    }

    private bool Used(int i, bool withEntries) => completed[i] != 0 || censored[i] != 0 || (withEntries && entered[i] != 0);

    private void Add(int index, double done, double cut, double entry = 0)
    {
        Grow(index + 1);
        completed[index] += done;
        censored[index] += cut;
        entered[index] += entry;
    }

    private void Grow(int length)
    {
        if (length <= completed.Length)
        {
            return;
        }

        var size = Math.Min(BinCount, Math.Max(length, completed.Length * 2));
        Array.Resize(ref completed, size);
        Array.Resize(ref censored, size);
        Array.Resize(ref entered, size);
    }
}
