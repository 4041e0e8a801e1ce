namespace TaskBudgets.Governance.Budgeting;

/// <summary>
/// Whether a call probes above its calibrated budget. A learned budget only sees the tail up to
/// what it grants, so a type whose budget truncates more than a larger one would can never find
/// out by itself; a bounded share of calls granted more lets calibration see that tail. The draw
/// comes from the caller so the decision stays pure and deterministic.
/// </summary>
/// <param name="Share">Share of an adaptive rule's calls that probe, 0..1; 0 never probes.</param>
/// <param name="Factor">What a probing call's calibrated base is multiplied by (above 1).</param>
/// <param name="Draw">This call's uniform draw in [0, 1): it probes when the draw is below the share.</param>
public readonly record struct Exploration(double Share, double Factor, double Draw)
{
    /// <summary>This call probes: its draw fell in the share, and probing grants more.</summary>
    public bool Probes => Draw < Share && Factor > 1.0;
}
