namespace TaskBudgets.Governance.Admin;

/// <summary>One settled call as recorded: what it was granted, what it used, whether it was truncated.</summary>
/// <param name="GrantedReasoning">G: the reasoning budget it was granted (0 for a report without a grant).</param>
/// <param name="UsedReasoning">U: the reasoning tokens it used.</param>
/// <param name="AnswerTokens">Output tokens beyond reasoning (the visible answer), which a budget does not change.</param>
public readonly record struct RecordedCall(long GrantedReasoning, long GrantedOutput, long UsedReasoning, long AnswerTokens, bool Truncated);

/// <summary>What a recorded call would have done under a candidate reasoning budget.</summary>
/// <param name="Censored">Truncated under a smaller grant, with a larger candidate budget: its outcome is unknown.</param>
public readonly record struct ProjectedCall(long UsedReasoning, long UsedOutput, bool Truncated, bool Censored)
{
    /// <summary>
    /// The censoring rule. A call that was not truncated needed exactly what it used (U): under a
    /// budget B it is truncated iff U &gt; B and uses min(U, B). A truncated call needed more than
    /// its grant G: under B &lt;= G it is still truncated and uses B; under B &gt; G nobody knows,
    /// so it is censored and counted as using U, a lower bound.
    /// </summary>
    public static ProjectedCall Under(in RecordedCall call, long budget)
    {
        if (!call.Truncated)
        {
            var used = Math.Min(call.UsedReasoning, budget);
            return new(used, used + call.AnswerTokens, call.UsedReasoning > budget, Censored: false);
        }

        if (budget <= call.GrantedReasoning)
        {
            return new(budget, budget + call.AnswerTokens, Truncated: true, Censored: false);
        }

        return new(call.UsedReasoning, call.UsedReasoning + call.AnswerTokens, Truncated: false, Censored: true);
    }
}

/// <summary>Sums of reserved and used tokens, truncations and denials over a set of calls.</summary>
public sealed class ReplaySums
{
    public long Calls { get; private set; }

    public long ReservedReasoning { get; private set; }

    public long ReservedOutput { get; private set; }

    public long UsedReasoning { get; private set; }

    public long UsedOutput { get; private set; }

    public long Truncations { get; private set; }

    public long CensoredTruncations { get; private set; }

    public long Denials { get; private set; }

    public double TruncationRate => Calls == 0 ? 0 : (double)Truncations / Calls;

    public double ReservationEfficiency => ReservedReasoning == 0 ? 0 : (double)UsedReasoning / ReservedReasoning;

    public double ReservedPerCall => Calls == 0 ? 0 : (double)ReservedReasoning / Calls;

    public void AddCall(long reservedReasoning, long reservedOutput, long usedReasoning, long usedOutput, bool truncated, bool censored)
    {
        Calls++;
        ReservedReasoning += reservedReasoning;
        ReservedOutput += reservedOutput;
        UsedReasoning += usedReasoning;
        UsedOutput += usedOutput;
        Truncations += truncated ? 1 : 0;
        CensoredTruncations += censored ? 1 : 0;
    }

    /// <summary>A call that was (or would be) refused: it reserves and uses nothing.</summary>
    public void AddDenials(long count) => Denials += count;

    public void Add(ReplaySums other)
    {
        ArgumentNullException.ThrowIfNull(other);
        Calls += other.Calls;
        ReservedReasoning += other.ReservedReasoning;
        ReservedOutput += other.ReservedOutput;
        UsedReasoning += other.UsedReasoning;
        UsedOutput += other.UsedOutput;
        Truncations += other.Truncations;
        CensoredTruncations += other.CensoredTruncations;
        Denials += other.Denials;
    }
}
