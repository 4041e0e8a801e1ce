namespace TaskBudgets.Governance.Budgeting.Calibration;

/// <summary>
/// Changes of what a key's calls need (found by <see cref="ChangeDetector"/>): each one starts a
/// new epoch, stored with the statistics so that every replica drops the evidence from before it
/// the same way.
/// </summary>
/// <remarks>
/// The evidence from before a change is dropped, not kept at a small weight: kept at any weight,
/// its tail is all the curve knows past the budget the new calls ran out of (Kaplan-Meier's
/// conditional survival there does not depend on the weight), and it says the old need, so a
/// need that grew was followed no faster than without detection. Without it the relearning
/// grows from what the new calls show (<see cref="CalibrationSnapshot.SmoothStartFactor"/>).
/// </remarks>
public sealed partial class CalibrationStats
{

    /// <summary>How many changes these statistics have seen (0: none).</summary>
    public long ChangeEpoch { get; private set; }

    /// <summary>When the latest change was detected (Unix ms); 0 with none.</summary>
    public long ChangeAtMs { get; private set; }

    /// <summary>
    /// Weighted calls like <see cref="Calls"/>, but kept across changes: how much of the tier's
    /// traffic the key is, which a change does not alter (its share in the tier's allocation).
    /// </summary>
    public double Traffic { get; private set; }

    /// <summary>The decayed <see cref="Traffic"/> as of <paramref name="nowMs"/>.</summary>
    public double TrafficSamples(long nowMs, TimeSpan halfLife) => Traffic * Decay(nowMs, halfLife);

    /// <summary>Calls counted since the latest change (not decayed): the relearning's progress.</summary>
    public double CallsSinceChange { get; private set; }

    /// <summary>Whether epoch (<paramref name="epoch"/>, <paramref name="atMs"/>) is later than these statistics'.</summary>
    public bool IsBefore(long epoch, long atMs) => epoch > ChangeEpoch || (epoch == ChangeEpoch && atMs > ChangeAtMs);

    /// <summary>
    /// Starts epoch (<paramref name="epoch"/>, <paramref name="atMs"/>): the evidence so far is
    /// dropped and no call counts as since the change yet. Nothing happens for an epoch that is
    /// not later, so every replica that applies it gets the same result.
    /// </summary>
    public void StartEpoch(long epoch, long atMs)
    {
        if (!IsBefore(epoch, atMs))
        {
            return;
        }

        ScaleAll(0);
        ChangeEpoch = epoch;
        ChangeAtMs = atMs;
        CallsSinceChange = 0;
    }

    /// <summary>
    /// The statistics of every row, merged: rows of an older epoch than the latest among them are
    /// left out (their calls are from before the change, or cannot be told apart from those), so
    /// the result does not depend on the order of the rows. Null for no rows.
    /// </summary>
    public static CalibrationStats? Combine(IEnumerable<CalibrationStats> rows, TimeSpan halfLife)
    {
        ArgumentNullException.ThrowIfNull(rows);
        var all = rows.ToList();
        if (all.Count == 0)
        {
            return null;
        }

        var latest = all[0];
        foreach (var row in all)
        {
            if (latest.IsBefore(row.ChangeEpoch, row.ChangeAtMs))
            {
                latest = row;
            }
        }

        var sum = new CalibrationStats(all.Min(r => r.LandmarkMs));
        sum.StartEpoch(latest.ChangeEpoch, latest.ChangeAtMs);
        foreach (var row in all)
        {
            sum.Merge(row, halfLife);
        }

        return sum;
    }

    /// <summary>Before merging <paramref name="other"/>: the side of the older epoch starts the newer one.</summary>
    /// <returns>What to merge: <paramref name="other"/>, or nothing (null) when it is of an older epoch.</returns>
    private CalibrationStats? AlignEpochs(CalibrationStats other)
    {
        if (IsBefore(other.ChangeEpoch, other.ChangeAtMs))
        {
            StartEpoch(other.ChangeEpoch, other.ChangeAtMs);
        }

        if (other.IsBefore(ChangeEpoch, ChangeAtMs))
        {
            return null;
        }

        CallsSinceChange += other.CallsSinceChange;
        return other;
    }

    private void ReadEpoch(BinaryReader reader)
    {
        ChangeEpoch = reader.ReadInt64();
        ChangeAtMs = reader.ReadInt64();
        CallsSinceChange = Finite(reader.ReadDouble());
        Traffic = Finite(reader.ReadDouble());
        if (ChangeEpoch < 0 || CallsSinceChange < 0 || Traffic < 0)
        {
            throw new FormatException("A calibration change epoch is negative.");
        }
    }

    private void WriteEpoch(BinaryWriter writer)
    {
        writer.Write(ChangeEpoch);
        writer.Write(ChangeAtMs);
        writer.Write(CallsSinceChange);
        writer.Write(Traffic);
    }
}
