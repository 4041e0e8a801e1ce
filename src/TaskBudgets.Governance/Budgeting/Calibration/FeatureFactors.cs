using System.Collections.Immutable;

namespace TaskBudgets.Governance.Budgeting.Calibration;

/// <summary>
/// What a call's phase and estimated input size say about its need, learned from the key's calls:
/// the median need of each phase, and of each input band (<see cref="CalibrationStats.InputBand"/>),
/// over that of standard calls, and of short inputs. Each feature is learned on its own. 0 where
/// the data cannot say yet (too few calls, or a median past every budget they got): the rule's
/// fixed effect applies there. A value type, so deciding with it allocates nothing; the default
/// has learned nothing.
/// </summary>
/// <param name="Phases">By <see cref="CallPhase"/>; standard is 1 by definition.</param>
/// <param name="InputBands">By input band; band 0 (short or unknown inputs) is 1 by definition.</param>
public readonly record struct FeatureFactors(ImmutableArray<double> Phases, ImmutableArray<double> InputBands)
{
    /// <summary>
    /// Standard calls are known well enough to learn a phase against: a call of a phase not yet
    /// learned then teaches only its phase, not the base (a guess of its effect would blur it).
    /// </summary>
    public bool PhaseReferenceKnown { get; init; }

    /// <summary>Short-input calls are known well enough to learn an input band against (as <see cref="PhaseReferenceKnown"/>).</summary>
    public bool InputReferenceKnown { get; init; }

    /// <summary>The most any deep call is known to have needed (what it used, or where it was truncated); 0 with none.</summary>
    public long DeepReach { get; init; }

    /// <summary>The most a learned feature moves a need, either way.</summary>
    public const double MaxFactor = 16.0;

    /// <summary>What calls of <paramref name="phase"/> need over standard calls; 0 when not learned.</summary>
    public double Phase(CallPhase phase) =>
        Phases.IsDefaultOrEmpty || (uint)phase >= (uint)Phases.Length ? 0 : Phases[(int)phase];

    /// <summary>What calls with an input of <paramref name="estimatedInputTokens"/> need over short-input calls; 0 when not learned.</summary>
    public double Input(long estimatedInputTokens) =>
        CalibrationStats.InputBand(estimatedInputTokens) is var band && !InputBands.IsDefaultOrEmpty && band < InputBands.Length ? InputBands[band] : 0;

    /// <summary>Some factor besides the references' own is learned.</summary>
    public bool Learned
    {
        get
        {
            for (var i = 1; i < (Phases.IsDefaultOrEmpty ? 0 : Phases.Length); i++)
            {
                if (Phases[i] > 0)
                {
                    return true;
                }
            }

            for (var i = 1; i < (InputBands.IsDefaultOrEmpty ? 0 : InputBands.Length); i++)
            {
                if (InputBands[i] > 0)
                {
                    return true;
                }
            }

            return false;
        }
    }
}
