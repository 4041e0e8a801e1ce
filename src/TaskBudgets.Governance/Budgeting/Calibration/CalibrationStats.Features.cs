using System.Collections.Immutable;

namespace TaskBudgets.Governance.Budgeting.Calibration;

/// <summary>
/// What the calls of each phase and each input band used, as they came (censored where
/// truncated), to learn what those features say about a call's need (<see cref="FeatureFactors"/>).
/// </summary>
/// <remarks>
/// Only the calls away from the references (preliminary and deep calls; inputs past band 0) are
/// kept: the references are <see cref="Reasoning"/> less the others, bin by bin, so a key whose
/// callers send neither feature stores nothing more. Each factor is a ratio of Kaplan-Meier
/// medians, which truncated calls do not bias as long as fewer than half of a group's calls are
/// truncated: a mean of the completed calls' usage would be biased low exactly where the rule's
/// fixed effect is wrong, and learning from it would confirm the error.
/// </remarks>
public sealed partial class CalibrationStats
{
    private readonly UsageSketch[] byPhase = NewSketches(Enum.GetValues<CallPhase>().Length);

    private readonly UsageSketch[] byInput = NewSketches(InputBands);

    /// <summary>At most this share of a key's calls in a reference group: there is nothing to learn against (<see cref="FeatureReference.Missing"/>).</summary>
    private const double MissingReferenceShare = 0.05;

    /// <summary>The phase's sketch (raw usage), or null for standard calls (the reference).</summary>
    private UsageSketch? PhaseSketch(CallPhase phase) =>
        phase != CallPhase.Standard && (uint)phase < (uint)byPhase.Length ? byPhase[(int)phase] : null;

    private void AddFeatures(in CalibrationSample sample, long value, double w)
    {
        var band = InputBand(sample.EstimatedInputTokens);
        foreach (var sketch in (ReadOnlySpan<UsageSketch?>)[PhaseSketch(sample.Phase), band > 0 ? byInput[band] : null])
        {
            if (sketch is null)
            {
                continue;
            }

            if (sample.Truncated)
            {
                sketch.AddCensored(value, w);
            }
            else
            {
                sketch.AddCompleted(value, w);
            }

            Enter(sketch, sample, value, w, 1.0);
        }
    }

    /// <summary>
    /// The learned factors: each group's median need over its reference's, where both have
    /// <paramref name="minWeight"/> completed calls and a median placed by the data, within
    /// 1/<see cref="FeatureFactors.MaxFactor"/>..<see cref="FeatureFactors.MaxFactor"/>; 0 elsewhere.
    /// </summary>
    /// <param name="ruleMax">The rule's max reasoning tokens (the curves' end).</param>
    public FeatureFactors LearnFeatureFactors(double minWeight, long ruleMax)
    {
        var (phases, phaseReference) = Factors(byPhase, (int)CallPhase.Standard, minWeight, ruleMax);
        var (inputs, inputReference) = Factors(byInput, 0, minWeight, ruleMax);
        var deep = byPhase[(int)CallPhase.Deep];
        return new FeatureFactors(phases, inputs)
        {
            PhaseReference = phaseReference,
            InputReference = inputReference,
            DeepReach = deep.TotalWeight > 0 ? new SurvivalCurve(deep, ruleMax).LargestObserved : 0,
        };
    }

    /// <returns>The factors, and what is known of the reference group.</returns>
    private (ImmutableArray<double> Factors, FeatureReference Reference) Factors(UsageSketch[] groups, int reference, double minWeight, long ruleMax)
    {
        var factors = new double[groups.Length];
        factors[reference] = 1.0;
        var any = false;
        for (var g = 0; g < groups.Length; g++)
        {
            any |= g != reference && groups[g].TotalWeight > 0;
        }

        if (!any)
        {
            return ([.. factors], FeatureReference.Unknown);
        }

        var rest = Reasoning.Clone();
        for (var g = 0; g < groups.Length; g++)
        {
            if (g != reference)
            {
                rest.Subtract(groups[g]);
            }
        }

        if (rest.CompletedWeight < minWeight || Median(rest, ruleMax) is not { } baseline)
        {
            var others = Reasoning.TotalWeight - rest.TotalWeight;
            return ([.. factors], others >= 2 * minWeight && rest.TotalWeight <= MissingReferenceShare * Reasoning.TotalWeight ? FeatureReference.Missing : FeatureReference.Unknown);
        }

        for (var g = 0; g < groups.Length; g++)
        {
            if (g != reference && groups[g].CompletedWeight >= minWeight && Median(groups[g], ruleMax) is { } median)
            {
                factors[g] = Math.Clamp((double)median / baseline, 1.0 / FeatureFactors.MaxFactor, FeatureFactors.MaxFactor);
            }
        }

        return ([.. factors], FeatureReference.Known);
    }

    /// <summary>The Kaplan-Meier median; null where it lies past every value reached.</summary>
    private static long? Median(UsageSketch sketch, long ruleMax)
    {
        var median = new SurvivalCurve(sketch, ruleMax).Percentile(0.5);
        return median.Censored || median.Tokens <= 0 ? null : median.Tokens;
    }

    private void MergeFeatures(CalibrationStats other, double scale)
    {
        for (var i = 0; i < byPhase.Length; i++)
        {
            byPhase[i].Merge(other.byPhase[i], scale);
        }

        for (var i = 0; i < byInput.Length; i++)
        {
            byInput[i].Merge(other.byInput[i], scale);
        }
    }

    private void ScaleFeatures(double factor)
    {
        foreach (var sketch in byPhase)
        {
            sketch.Scale(factor);
        }

        foreach (var sketch in byInput)
        {
            sketch.Scale(factor);
        }
    }

    private void WriteFeatures(BinaryWriter writer)
    {
        foreach (var sketch in byPhase)
        {
            sketch.Write(writer);
        }

        foreach (var sketch in byInput)
        {
            sketch.Write(writer);
        }
    }

    private void ReadFeatures(BinaryReader reader)
    {
        for (var i = 0; i < byPhase.Length; i++)
        {
            byPhase[i] = UsageSketch.Read(reader);
        }

        for (var i = 0; i < byInput.Length; i++)
        {
            byInput[i] = UsageSketch.Read(reader);
        }
    }
}
