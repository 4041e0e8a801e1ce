using Google.Protobuf.WellKnownTypes;
using TaskBudgets.Governance.Adaptive;
using TaskBudgets.Governance.Budgeting;
using TaskBudgets.Governance.Budgeting.Calibration;
using TaskBudgets.Governance.Policies;
using TaskBudgets.V1;

namespace TaskBudgets.Governance.Admin;

/// <summary>GetCalibration: the rows of the calibration in force on this replica, filtered, as the API's messages.</summary>
public sealed class CalibrationReport(CalibrationBook book, PolicyCatalog catalog)
{
    /// <exception cref="GovernanceException">An unknown tier or org in the filter (NOT_FOUND).</exception>
    public GetCalibrationResponse Get(GetCalibrationRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var policy = catalog.Current;
        if (request.Tier.Length > 0 && !policy.Tiers.ContainsKey(request.Tier))
        {
            throw new GovernanceException(RefusalKind.NotFound, "TIER_NOT_FOUND", $"Tier '{request.Tier}' does not exist.") { Field = "tier" };
        }

        string? orgTier = null;
        if (request.OrgId.Length > 0)
        {
            orgTier = (policy.Orgs.GetValueOrDefault(request.OrgId) ?? throw GovernanceException.OrgNotFound(request.OrgId)).Tier;
        }

        var snapshot = book.Current;
        var response = new GetCalibrationResponse { PolicyVersion = snapshot.PolicyVersion };
        foreach (var view in snapshot.Views)
        {
            var key = view.Key;
            var wanted = (request.Tier.Length == 0 || key.Tier == request.Tier)
                && (request.TaskType.Length == 0 || key.TaskType == request.TaskType)
                && (orgTier is null
                    ? key.OrgId.Length == 0
                    : key.Tier == orgTier && (key.OrgId.Length == 0 || key.OrgId == request.OrgId));
            if (wanted)
            {
                response.Calibrations.Add(ToProto(view));
            }
        }

        return response;
    }

    public static V1.Calibration ToProto(CalibrationView v)
    {
        ArgumentNullException.ThrowIfNull(v);
        return new V1.Calibration
        {
            Tier = v.Key.Tier,
            TaskType = v.Key.TaskType,
            OrgId = v.Key.OrgId,
            Samples = v.Samples,
            UsedP50 = v.UsedP50.Tokens,
            UsedP90 = v.UsedP90.Tokens,
            UsedP95 = v.UsedP95.Tokens,
            UsedP99 = v.UsedP99.Tokens,
            UsedP50Censored = v.UsedP50.Censored,
            UsedP90Censored = v.UsedP90.Censored,
            UsedP95Censored = v.UsedP95.Censored,
            UsedP99Censored = v.UsedP99.Censored,
            TruncationRate = v.TruncationRate,
            ReservationEfficiency = v.ReservationEfficiency,
            CurrentBudget = v.CurrentBudget,
            RecommendedBudget = v.RecommendedBudget,
            ProjectedTruncationRate = v.ProjectedTruncationRate,
            ProjectedReservedTokensPerCall = v.ProjectedReservedPerCall,
            Adaptive = v.Adaptive,
            MinSamples = v.MinSamples,
            Active = v.Active,
            TargetTruncationRate = v.TargetTruncationRate,
            OverGrantRate = v.OverGrantRate,
            OutputP50 = v.OutputP50,
            OutputP99 = v.OutputP99,
            ComplexitySlope = v.ComplexitySlope,
            EscalationBudgets = { v.EscalationBudgets },
            ProjectedReservedTokensPerTask = v.ProjectedReservedPerTask,
            Retries = v.Retries,
            ChangesDetected = v.ChangesDetected,
            LastChangeTime = v.ChangesDetected > 0 ? Timestamp.FromDateTimeOffset(DateTimeOffset.FromUnixTimeMilliseconds(v.LastChangeAtMs)) : null,
            Recalibrating = v.Recalibrating,
            CallsSinceChange = v.CallsSinceChange,
            PreliminaryPhaseFactor = v.Features.Phase(CallPhase.Preliminary),
            DeepPhaseFactor = v.Features.Phase(CallPhase.Deep),
            LongInputFactors = { LongInputFactors(v.Features) },
        };
    }

    /// <summary>The learned factors of the long-input bands (band 0, the reference, left out); empty when none is learned.</summary>
    private static IEnumerable<double> LongInputFactors(FeatureFactors features) =>
        features.InputBands.IsDefaultOrEmpty || !features.InputBands.Skip(1).Any(f => f > 0) ? [] : features.InputBands.Skip(1);
}
