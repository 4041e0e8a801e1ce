namespace TaskBudgets.Governance.Budgeting.Calibration;

/// <summary>What one settled call tells the calibration.</summary>
/// <param name="ReasoningUsed">Reasoning tokens the call used.</param>
/// <param name="OutputUsed">Output tokens the call used, reasoning included.</param>
/// <param name="ReasoningGranted">Reasoning tokens its grant reserved; 0 for a report without a grant.</param>
/// <param name="Truncated">It stopped on MAX_TOKENS: its need was more than it got.</param>
/// <param name="OverGrant">It used more than its grant.</param>
/// <param name="Complexity">The caller's complexity hint, when it gave one.</param>
public readonly record struct CalibrationSample(
    long ReasoningUsed,
    long OutputUsed,
    long ReasoningGranted,
    bool Truncated,
    bool OverGrant,
    double? Complexity);

/// <summary>
/// The streaming statistics of one tier and task type (and org): sketches of reasoning and output
/// tokens, and decayed counts. Decay is forward decay: a call at time t weighs
/// exp(ln 2 * (t - landmark) / half-life), so adding never touches older weights, and any
/// total divided by the weight of "now" is the exponentially decayed total. Not thread-safe.
/// </summary>
public sealed class CalibrationStats
{
    /// <summary>Re-base once weights grow past 2^40, far from overflow.</summary>
    private const double RebaseAfterHalfLives = 40;

    private const byte FormatVersion = 1;

    public CalibrationStats(long landmarkMs) => LandmarkMs = landmarkMs;

    /// <summary>The time (Unix ms) at which a call weighs 1.</summary>
    public long LandmarkMs { get; private set; }

    /// <summary>Reasoning tokens used: completed calls, and truncated ones as censored.</summary>
    public UsageSketch Reasoning { get; private set; } = new();

    /// <summary>Output tokens used (completed calls only: an output cap is no reasoning need).</summary>
    public UsageSketch Output { get; private set; } = new();

    public double Calls { get; private set; }

    public double Truncations { get; private set; }

    public double OverGrants { get; private set; }

    public double ReasoningUsed { get; private set; }

    public double ReasoningGranted { get; private set; }

    // Weighted sums for a least-squares fit of ln(1 + reasoning used) on the complexity hint,
    // over completed calls that carried a hint.
    public double HintWeight { get; private set; }

    public double HintC { get; private set; }

    public double HintCC { get; private set; }

    public double HintY { get; private set; }

    public double HintCY { get; private set; }

    /// <summary>Counts one call settled at <paramref name="atMs"/>.</summary>
    public void Add(in CalibrationSample sample, long atMs, TimeSpan halfLife)
    {
        if (HalfLives(atMs - LandmarkMs, halfLife) > RebaseAfterHalfLives)
        {
            Rebase(atMs, halfLife);
        }

        var w = Math.Pow(2.0, HalfLives(atMs - LandmarkMs, halfLife));
        Calls += w;
        ReasoningUsed += w * Math.Max(0, sample.ReasoningUsed);
        ReasoningGranted += w * Math.Max(0, sample.ReasoningGranted);
        if (sample.OverGrant)
        {
            OverGrants += w;
        }

        if (sample.Truncated)
        {
            Truncations += w;
            Reasoning.AddCensored(Math.Max(sample.ReasoningUsed, sample.ReasoningGranted), w);
            return;
        }

        Reasoning.AddCompleted(sample.ReasoningUsed, w);
        Output.AddCompleted(sample.OutputUsed, w);
        if (sample.Complexity is { } c && double.IsFinite(c))
        {
            var y = Math.Log(1.0 + Math.Max(0, sample.ReasoningUsed));
            c = Math.Clamp(c, 0.0, 1.0);
            HintWeight += w;
            HintC += w * c;
            HintCC += w * c * c;
            HintY += w * y;
            HintCY += w * c * y;
        }
    }

    /// <summary>The decayed number of calls as of <paramref name="nowMs"/>.</summary>
    public double Samples(long nowMs, TimeSpan halfLife) => Calls * Decay(nowMs, halfLife);

    /// <summary>The factor that turns stored weights into decayed counts as of <paramref name="nowMs"/>.</summary>
    public double Decay(long nowMs, TimeSpan halfLife) => Math.Pow(2.0, -HalfLives(nowMs - LandmarkMs, halfLife));

    /// <summary>Adds <paramref name="other"/>'s calls: the result describes both sets of calls.</summary>
    public void Merge(CalibrationStats other, TimeSpan halfLife)
    {
        ArgumentNullException.ThrowIfNull(other);

        // Work at the later landmark, so the other's weights scale down, never up to overflow.
        if (other.LandmarkMs > LandmarkMs)
        {
            Rebase(other.LandmarkMs, halfLife);
        }

        var scale = Math.Pow(2.0, HalfLives(other.LandmarkMs - LandmarkMs, halfLife));
        Reasoning.Merge(other.Reasoning, scale);
        Output.Merge(other.Output, scale);
        Calls += other.Calls * scale;
        Truncations += other.Truncations * scale;
        OverGrants += other.OverGrants * scale;
        ReasoningUsed += other.ReasoningUsed * scale;
        ReasoningGranted += other.ReasoningGranted * scale;
        HintWeight += other.HintWeight * scale;
        HintC += other.HintC * scale;
        HintCC += other.HintCC * scale;
        HintY += other.HintY * scale;
        HintCY += other.HintCY * scale;
    }

    public CalibrationStats Clone(TimeSpan halfLife)
    {
        var copy = new CalibrationStats(LandmarkMs);
        copy.Merge(this, halfLife);
        return copy;
    }

    /// <summary>
    /// The complexity hint's learned effect: d ln(need) / d complexity, and the mean hint; null
    /// until at least <paramref name="minWeight"/> hinted calls spread over a range of hints.
    /// </summary>
    public (double Slope, double Mean)? ComplexityFit(double minWeight)
    {
        if (HintWeight < minWeight || HintWeight <= 0)
        {
            return null;
        }

        var mean = HintC / HintWeight;
        var variance = (HintCC / HintWeight) - (mean * mean);
        if (variance < 0.005)
        {
            return null;
        }

        var covariance = (HintCY / HintWeight) - (mean * (HintY / HintWeight));
        return (covariance / variance, mean);
    }

    public byte[] Serialize()
    {
        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream))
        {
            writer.Write(FormatVersion);
            writer.Write(LandmarkMs);
            foreach (var value in (double[])[Calls, Truncations, OverGrants, ReasoningUsed, ReasoningGranted, HintWeight, HintC, HintCC, HintY, HintCY])
            {
                writer.Write(value);
            }

            Reasoning.Write(writer);
            Output.Write(writer);
        }

        return stream.ToArray();
    }

    /// <exception cref="FormatException">The bytes are not calibration statistics of a known format.</exception>
    public static CalibrationStats Deserialize(byte[] bytes)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        try
        {
            using var reader = new BinaryReader(new MemoryStream(bytes, writable: false));
            var version = reader.ReadByte();
            if (version != FormatVersion)
            {
                throw new FormatException($"Unknown calibration format {version}.");
            }

            var stats = new CalibrationStats(reader.ReadInt64());
            var v = new double[10];
            for (var i = 0; i < v.Length; i++)
            {
                v[i] = reader.ReadDouble();
                if (!double.IsFinite(v[i]))
                {
                    throw new FormatException("A calibration total is not finite.");
                }
            }

            (stats.Calls, stats.Truncations, stats.OverGrants, stats.ReasoningUsed, stats.ReasoningGranted) = (v[0], v[1], v[2], v[3], v[4]);
            (stats.HintWeight, stats.HintC, stats.HintCC, stats.HintY, stats.HintCY) = (v[5], v[6], v[7], v[8], v[9]);
            stats.Reasoning = UsageSketch.Read(reader);
            stats.Output = UsageSketch.Read(reader);
            return stats;
        }
        catch (EndOfStreamException e)
        {
            throw new FormatException("Calibration bytes end early.", e);
        }
    }

    private void Rebase(long landmarkMs, TimeSpan halfLife)
    {
        var factor = Math.Pow(2.0, -HalfLives(landmarkMs - LandmarkMs, halfLife));
        Reasoning.Scale(factor);
        Output.Scale(factor);
        Calls *= factor;
        Truncations *= factor;
        OverGrants *= factor;
        ReasoningUsed *= factor;
        ReasoningGranted *= factor;
        HintWeight *= factor;
        HintC *= factor;
        HintCC *= factor;
        HintY *= factor;
        HintCY *= factor;
        LandmarkMs = landmarkMs;
    }

    private static double HalfLives(long ms, TimeSpan halfLife) => ms / halfLife.TotalMilliseconds;
}
