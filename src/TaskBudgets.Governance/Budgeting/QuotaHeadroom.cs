namespace TaskBudgets.Governance.Budgeting;

/// <summary>One applicable quota as the decision sees it: its limit and what is left of it.</summary>
public readonly record struct QuotaHeadroom(QuotaMetric Metric, long Limit, long Remaining)
{
    /// <summary>How much of the window is used or reserved, 0..1.</summary>
    public double Utilisation => Limit <= 0 ? 1.0 : Math.Clamp(1.0 - ((double)Remaining / Limit), 0.0, 1.0);
}
