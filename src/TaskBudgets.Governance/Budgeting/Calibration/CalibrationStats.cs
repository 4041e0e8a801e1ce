namespace TaskBudgets.Governance.Budgeting.Calibration;

/// <summary>What one settled call tells the calibration.</summary>
/// <param name="ReasoningUsed">Reasoning tokens the call used.</param>
/// <param name="OutputUsed">Output tokens the call used, reasoning included.</param>
/// <param name="ReasoningGranted">Reasoning tokens its grant reserved; 0 for a report without a grant.</param>
/// <param name="Truncated">It stopped on MAX_TOKENS: its need was more than it got.</param>
/// <param name="OverGrant">It used more than its grant.</param>
/// <param name="Complexity">The caller's complexity hint, when it gave one.</param>
/// <param name="Attempt">1-based attempt of the task this call was.</param>
/// <param name="PreviousReasoningTokens">
/// The reasoning budget the previous attempt was granted and exceeded (it stopped on MAX_TOKENS);
/// 0 when there was none. Above 0 the call continues a task already counted, whose need is known
/// to be more than this.
/// </param>
public readonly record struct CalibrationSample(
    long ReasoningUsed,
    long OutputUsed,
    long ReasoningGranted,
    bool Truncated,
    bool OverGrant,
    double? Complexity,
    int Attempt = 1,
    long PreviousReasoningTokens = 0)
{
    /// <summary>It continues a task truncated before: a conditional observation, not a new task.</summary>
    public bool Continues => PreviousReasoningTokens > 0;

    /// <summary>The call's phase.</summary>
    public CallPhase Phase { get; init; }

    /// <summary>The call's estimated input size (0: not given).</summary>
    public long EstimatedInputTokens { get; init; }

    /// <summary>
    /// What the call's phase and input size were known to multiply its need by when it was granted
    /// (<see cref="BudgetDecision.FeatureFactor"/>): its usage divided by this is in the base's
    /// terms. 0 while its phase or input band is still being learned: the call then teaches only
    /// its phase and input band.
    /// </summary>
    public double FeatureFactor { get; init; } = 1.0;
}

/// <summary>
/// The streaming statistics of one tier and task type (and org): sketches of reasoning and output
/// tokens, and decayed counts. Decay is forward decay: a call at time t weighs
/// exp(ln 2 * (t - landmark) / half-life), so adding never touches older weights, and any
/// total divided by the weight of "now" is the exponentially decayed total. Not thread-safe.
/// </summary>
public sealed partial class CalibrationStats
{
    /// <summary>Re-base once weights grow past 2^40, far from overflow.</summary>
    private const double RebaseAfterHalfLives = 40;

    /// <summary>Hints are grouped in this many equal bands of 0..1 (deciles) to learn what each band needs.</summary>
    public const int HintBands = 10;

    private const byte FormatVersion = 5;

    /// <summary>The format before phases and input bands: read as calls of the standard phase with short inputs.</summary>
    private const byte FormatVersionWithoutFeatures = 4;

    /// <summary>The format before change epochs: read as statistics that have seen no change.</summary>
    private const byte FormatVersionWithoutEpoch = 3;

    /// <summary>The format before retries (no delayed entries, no retry counts): read as first attempts only, with no change.</summary>
    private const byte FormatVersionWithoutRetries = 2;

    /// <summary>The format before hint bands: read as calls without a hint.</summary>
    private const byte FormatVersionWithoutBands = 1;

    private readonly UsageSketch[] byHint = NewSketches(HintBands);

    private readonly double[] bandWeight = new double[HintBands];

    private readonly double[] bandLogUsed = new double[HintBands];

    public CalibrationStats(long landmarkMs) => LandmarkMs = landmarkMs;

    /// <summary>The time (Unix ms) at which a call weighs 1.</summary>
    public long LandmarkMs { get; private set; }

    /// <summary>Reasoning tokens used: completed calls, and truncated ones as censored.</summary>
    public UsageSketch Reasoning { get; private set; } = new();

    /// <summary>Output tokens used (completed calls only: an output cap is no reasoning need).</summary>
    public UsageSketch Output { get; private set; } = new();

    /// <summary>
    /// Reasoning tokens of the calls that came without a complexity hint, in the base's terms
    /// (<see cref="CalibrationSample.FeatureFactor"/>).
    /// </summary>
    public UsageSketch Unhinted { get; private set; } = new();

    /// <summary>Tasks: calls that continue no truncated attempt (retries are counted in <see cref="Retries"/>).</summary>
    public double Calls { get; private set; }

    /// <summary>Tasks whose first attempt was truncated.</summary>
    public double Truncations { get; private set; }

    /// <summary>Calls that continued a truncated attempt.</summary>
    public double Retries { get; private set; }

    /// <summary>Of <see cref="Retries"/>, those truncated again.</summary>
    public double RetryTruncations { get; private set; }

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
        var continues = sample.Continues;
        if (continues)
        {
            Retries += w;
        }
        else
        {
            Calls += w;
            Traffic += w;
            CallsSinceChange++;
        }

        ReasoningUsed += w * Math.Max(0, sample.ReasoningUsed);
        ReasoningGranted += w * Math.Max(0, sample.ReasoningGranted);
        if (sample.OverGrant)
        {
            OverGrants += w;
        }

        var hinted = sample.Complexity is { } hint && double.IsFinite(hint);
        var split = hinted ? byHint[Band(sample.Complexity!.Value)] : Unhinted;

        // The hint's sketches hold usage in the base's terms: divided by what the phase and input size multiplied it by.
        var adjust = sample.FeatureFactor;
        var inBase = adjust > 0 && double.IsFinite(adjust);
        if (sample.Truncated)
        {
            if (continues)
            {
                RetryTruncations += w;
            }
            else
            {
                Truncations += w;
            }

            var censoredAt = Math.Max(sample.ReasoningUsed, sample.ReasoningGranted);
            Reasoning.AddCensored(censoredAt, w);
            Enter(Reasoning, sample, censoredAt, w, 1.0);
            AddFeatures(sample, censoredAt, w);
            if (inBase)
            {
                split.AddCensored(InBase(censoredAt, adjust), w);
                Enter(split, sample, censoredAt, w, adjust);
            }

            return;
        }

        Reasoning.AddCompleted(sample.ReasoningUsed, w);
        Enter(Reasoning, sample, sample.ReasoningUsed, w, 1.0);
        AddFeatures(sample, sample.ReasoningUsed, w);
        Output.AddCompleted(sample.OutputUsed, w);
        if (!inBase)
        {
            return;
        }

        var used = InBase(sample.ReasoningUsed, adjust);
        split.AddCompleted(used, w);
        Enter(split, sample, sample.ReasoningUsed, w, adjust);
        if (hinted)
        {
            var y = Math.Log(1.0 + Math.Max(0, used));
            var c = Math.Clamp(sample.Complexity!.Value, 0.0, 1.0);
            var band = Band(c);
            bandWeight[band] += w;
            bandLogUsed[band] += w * y;
            HintWeight += w;
            HintC += w * c;
            HintCC += w * c * c;
            HintY += w * y;
            HintCY += w * c * y;
        }
    }

    /// <summary>A continuation joins the risk set only above the budget its task exceeded before (both divided by <paramref name="adjust"/>).</summary>
    private static void Enter(UsageSketch sketch, in CalibrationSample sample, long value, double w, double adjust)
    {
        if (sample.Continues)
        {
            sketch.AddEntry(InBase(sample.PreviousReasoningTokens, adjust), InBase(value, adjust), w);
        }
    }

    /// <summary>Tokens divided by a feature factor, as a whole number of tokens.</summary>
    private static long InBase(long tokens, double adjust) =>
        adjust == 1.0 ? tokens : (long)Math.Round(Math.Min(tokens / adjust, UsageSketch.MaxValue));

    /// <summary>The decayed number of calls as of <paramref name="nowMs"/>.</summary>
    public double Samples(long nowMs, TimeSpan halfLife) => Calls * Decay(nowMs, halfLife);

    /// <summary>The factor that turns stored weights into decayed counts as of <paramref name="nowMs"/>.</summary>
    public double Decay(long nowMs, TimeSpan halfLife) => Math.Pow(2.0, -HalfLives(nowMs - LandmarkMs, halfLife));

    /// <summary>Adds <paramref name="other"/>'s calls: the result describes both sets of calls.</summary>
    public void Merge(CalibrationStats other, TimeSpan halfLife)
    {
        ArgumentNullException.ThrowIfNull(other);
        var sameEpoch = AlignEpochs(other) is not null;

        // Work at the later landmark, so the other's weights scale down, never up to overflow.
        if (other.LandmarkMs > LandmarkMs)
        {
            Rebase(other.LandmarkMs, halfLife);
        }

        var scale = Math.Pow(2.0, HalfLives(other.LandmarkMs - LandmarkMs, halfLife));
        Traffic += other.Traffic * scale;
        if (!sameEpoch)
        {
            return;
        }

        Reasoning.Merge(other.Reasoning, scale);
        Output.Merge(other.Output, scale);
        Unhinted.Merge(other.Unhinted, scale);
        MergeFeatures(other, scale);
        for (var b = 0; b < HintBands; b++)
        {
            byHint[b].Merge(other.byHint[b], scale);
            bandWeight[b] += other.bandWeight[b] * scale;
            bandLogUsed[b] += other.bandLogUsed[b] * scale;
        }

        Calls += other.Calls * scale;
        Truncations += other.Truncations * scale;
        Retries += other.Retries * scale;
        RetryTruncations += other.RetryTruncations * scale;
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

    /// <summary>
    /// Estimated input sizes are grouped in this many bands to learn what each needs: up to
    /// <see cref="BudgetDecision.LongInputThreshold"/> tokens (or unknown), then each doubling up to
    /// 524,288, then everything above. Narrow bands at the top too: a need that grows with the
    /// input varies more within a wide band than the base's calls do.
    /// </summary>
    public const int InputBands = 7;

    /// <summary>The band (0..<see cref="InputBands"/> - 1) of an estimated input size; band 0 is the short inputs every factor is relative to.</summary>
    public static int InputBand(long estimatedInputTokens)
    {
        var band = 0;
        for (var edge = BudgetDecision.LongInputThreshold; estimatedInputTokens > edge && band < InputBands - 1; edge *= 2)
        {
            band++;
        }

        return band;
    }

    /// <summary>The band (0..<see cref="HintBands"/> - 1) of a complexity hint.</summary>
    public static int Band(double complexity) => Math.Clamp((int)(Math.Clamp(complexity, 0.0, 1.0) * HintBands), 0, HintBands - 1);

    /// <summary>
    /// What each hint band's calls need relative to the hinted calls as a whole: exp(mean ln used
    /// of the band's completed calls - mean ln used of all hinted completed calls), at most
    /// <paramref name="maxFactor"/> either way. A band with too few calls takes the linear fit's
    /// value at its middle. Null while <see cref="ComplexityFit"/> is.
    /// </summary>
    public double[]? HintFactors(double minWeight, double maxFactor)
    {
        if (ComplexityFit(minWeight) is not { } fit)
        {
            return null;
        }

        var overall = HintY / HintWeight;
        var factors = new double[HintBands];
        for (var b = 0; b < HintBands; b++)
        {
            var shift = bandWeight[b] >= Math.Max(5.0, 0.01 * HintWeight)
                ? (bandLogUsed[b] / bandWeight[b]) - overall
                : fit.Slope * (((b + 0.5) / HintBands) - fit.Mean);
            factors[b] = Math.Exp(Math.Clamp(shift, -Math.Log(maxFactor), Math.Log(maxFactor)));
        }

        return factors;
    }

    /// <summary>
    /// The reasoning tokens used in the base's terms: each call's usage divided by what its phase
    /// and input size multiplied its budget by, and a hinted call's also by its band's factor
    /// (the need as it would be at the average hint); with no <paramref name="hintFactors"/>,
    /// hinted calls count as they are.
    /// </summary>
    public UsageSketch BaseUsage(IReadOnlyList<double>? hintFactors)
    {
        var adjusted = Unhinted.Clone();
        for (var b = 0; b < HintBands; b++)
        {
            if (hintFactors is null)
            {
                adjusted.Merge(byHint[b]);
            }
            else
            {
                adjusted.MergeScaled(byHint[b], hintFactors[b]);
            }
        }

        return adjusted;
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
            Unhinted.Write(writer);
            for (var b = 0; b < HintBands; b++)
            {
                writer.Write(bandWeight[b]);
                writer.Write(bandLogUsed[b]);
                byHint[b].Write(writer);
            }

            writer.Write(Retries);
            writer.Write(RetryTruncations);
            WriteEpoch(writer);
            WriteFeatures(writer);
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
            if (version is not (FormatVersion or FormatVersionWithoutFeatures or FormatVersionWithoutEpoch or FormatVersionWithoutRetries or FormatVersionWithoutBands))
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
            var withEntries = version >= FormatVersionWithoutEpoch;
            stats.Reasoning = UsageSketch.Read(reader, withEntries);
            stats.Output = UsageSketch.Read(reader, withEntries);
            stats.Traffic = stats.Calls;
            if (version == FormatVersionWithoutBands)
            {
                stats.Unhinted = stats.Reasoning.Clone();
                return stats;
            }

            stats.Unhinted = UsageSketch.Read(reader, withEntries);
            for (var b = 0; b < HintBands; b++)
            {
                stats.bandWeight[b] = Finite(reader.ReadDouble());
                stats.bandLogUsed[b] = Finite(reader.ReadDouble());
                stats.byHint[b] = UsageSketch.Read(reader, withEntries);
            }

            if (withEntries)
            {
                stats.Retries = Finite(reader.ReadDouble());
                stats.RetryTruncations = Finite(reader.ReadDouble());
            }

            if (version >= FormatVersionWithoutFeatures)
            {
                stats.ReadEpoch(reader);
            }

            if (version == FormatVersion)
            {
                stats.ReadFeatures(reader);
            }

            return stats;
        }
        catch (EndOfStreamException e)
        {
            throw new FormatException("Calibration bytes end early.", e);
        }
    }

    private static double Finite(double value) =>
        double.IsFinite(value) ? value : throw new FormatException("A calibration total is not finite.");

    private static UsageSketch[] NewSketches(int count)
    {
        var sketches = new UsageSketch[count];
        for (var b = 0; b < count; b++)
        {
            sketches[b] = new UsageSketch();
        }

        return sketches;
    }

    private void Rebase(long landmarkMs, TimeSpan halfLife)
    {
        var factor = Math.Pow(2.0, -HalfLives(landmarkMs - LandmarkMs, halfLife));
        ScaleAll(factor);
        Traffic *= factor;
        LandmarkMs = landmarkMs;
    }

    /// <summary>Multiplies every weight of the evidence by <paramref name="factor"/> (not <see cref="Traffic"/>, nor the epoch's counts).</summary>
    private void ScaleAll(double factor)
    {
        Reasoning.Scale(factor);
        Output.Scale(factor);
        Unhinted.Scale(factor);
        ScaleFeatures(factor);
        for (var b = 0; b < HintBands; b++)
        {
            byHint[b].Scale(factor);
            bandWeight[b] *= factor;
            bandLogUsed[b] *= factor;
        }

        Calls *= factor;
        Truncations *= factor;
        Retries *= factor;
        RetryTruncations *= factor;
        OverGrants *= factor;
        ReasoningUsed *= factor;
        ReasoningGranted *= factor;
        HintWeight *= factor;
        HintC *= factor;
        HintCC *= factor;
        HintY *= factor;
        HintCY *= factor;
    }

    private static double HalfLives(long ms, TimeSpan halfLife) => ms / halfLife.TotalMilliseconds;
}
