using System.Collections.Immutable;

namespace TaskBudgets.Governance.Budgeting.Calibration;

/// <summary>
/// What a call's phase and estimated input size say about its need, learned from the key's calls:
/// the median need of each phase, and of each input band (<see cref="CalibrationStats.InputBand"/>),
/// over that of standard calls, and of short inputs. Each feature is learned on its own. 0 where
/// the data cannot say yet (too few calls, or a median past every budget they got): the rule's
/// fixed effect applies there. Immutable and built with the snapshot, so a decision only reads it
/// (a reference keeps the calibration a decision carries small); <see cref="None"/> has learned nothing.
/// </summary>
/// <param name="Phases">By <see cref="CallPhase"/>; standard is 1 by definition.</param>
/// <param name="InputBands">By input band; band 0 (short or unknown inputs) is 1 by definition.</param>
public sealed record FeatureFactors(ImmutableArray<double> Phases, ImmutableArray<double> InputBands)
{
    /// <summary>Nothing learned, nothing known of the references.</summary>
    public static readonly FeatureFactors None = new([], []);

    /// <summary>What is known of the standard calls that the phases are learned against.</summary>
    public FeatureReference PhaseReference { get; init; }

    /// <summary>What is known of the short-input calls that the input bands are learned against.</summary>
    public FeatureReference InputReference { get; init; }

    /// <summary>The most any deep call is known to have needed (what it used, or where it was truncated); 0 with none.</summary>
    public long DeepReach { get; init; }

    /// <summary>The most a learned feature moves a need, either way.</summary>
    public const double MaxFactor = 16.0;

    /// <summary>What calls of <paramref name="phase"/> need over standard calls; 0 when not learned.</summary>
    public double Phase(CallPhase phase) =>
        Phases.IsDefaultOrEmpty || (uint)phase >= (uint)Phases.Length ? 0 : Phases[(int)phase];

    /// <summary>
    /// For an input whose band is not learned yet: the trend of the two highest learned bands
    /// below it (band 0's edge counts, at 1) carried on to this input, on log scales; 0 with no
    /// learned band below it. A need that grew with the input so far is taken to keep growing,
    /// rather than to fall back to the rule's fixed step, which may be far below what the bands
    /// already learned say.
    /// </summary>
    public double InputBeyondLearned(long estimatedInputTokens)
    {
        var band = CalibrationStats.InputBand(estimatedInputTokens);
        if (InputBands.IsDefaultOrEmpty || band == 0)
        {
            return 0;
        }

        var top = Math.Min(band, InputBands.Length) - 1;
        while (top > 0 && !(InputBands[top] > 0))
        {
            top--;
        }

        if (top == 0)
        {
            return 0;
        }

        var previous = top - 1;
        while (previous > 0 && !(InputBands[previous] > 0))
        {
            previous--;
        }

        var (topAt, previousAt) = (top - 0.5, previous == 0 ? 0 : previous - 0.5);
        var slope = (Math.Log(InputBands[top]) - Math.Log(previous == 0 ? 1.0 : InputBands[previous])) / (topAt - previousAt);
        var at = Math.Log2((double)estimatedInputTokens / BudgetDecision.LongInputThreshold);
        return Math.Clamp(Math.Exp(Math.Log(InputBands[top]) + (Math.Max(0, slope) * (at - topAt))), InputBands[top], MaxFactor);
    }

    /// <summary>
    /// What calls with an input of <paramref name="estimatedInputTokens"/> need over short-input
    /// calls; 0 when its band is not learned. A band's factor holds at the band's middle (on a log
    /// scale); between the middles of two learned bands (or band 1's and the short inputs' edge,
    /// where the factor is 1) it is interpolated, since a need that grows with the input grows
    /// within a band too, and one factor for the whole band would under-size its largest inputs.
    /// </summary>
    public double Input(long estimatedInputTokens)
    {
        var band = CalibrationStats.InputBand(estimatedInputTokens);
        if (InputBands.IsDefaultOrEmpty || band >= InputBands.Length)
        {
            return 0;
        }

        if (band == 0 || InputBands[band] <= 0)
        {
            return InputBands[band];
        }

        var at = Math.Log2((double)estimatedInputTokens / BudgetDecision.LongInputThreshold);
        var middle = band - 0.5;
        var neighbour = at < middle ? band - 1 : band + 1;
        if (neighbour >= InputBands.Length || InputBands[neighbour] <= 0)
        {
            return InputBands[band];
        }

        // Band 0's factor (1) holds at its upper edge, where the long inputs start.
        var neighbourAt = neighbour == 0 ? 0 : neighbour - 0.5;
        var share = (at - middle) / (neighbourAt - middle);
        return Math.Exp(Math.Log(InputBands[band]) + (share * (Math.Log(InputBands[neighbour]) - Math.Log(InputBands[band]))));
    }
}

/// <summary>What is known of the calls a feature's factors are learned against (standard calls; short inputs).</summary>
public enum FeatureReference
{
    /// <summary>Too few calls to tell yet: a call of another group teaches only its group.</summary>
    Unknown = 0,

    /// <summary>
    /// Enough of them to learn against: a call of another group teaches the base once its group's
    /// factor is learned, and until then only its group (a guess of its effect would blur the base).
    /// </summary>
    Known = 1,

    /// <summary>
    /// The key's calls are (almost) all of other groups: there is nothing to learn against, so
    /// the rule's fixed effect stands and the calls teach the base with it (a deep call, with no
    /// fixed effect to stand, is the reference itself: factor 1).
    /// </summary>
    Missing = 2,
}
