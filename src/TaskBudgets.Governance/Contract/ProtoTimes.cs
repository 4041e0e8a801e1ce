using Google.Protobuf.WellKnownTypes;

namespace TaskBudgets.Governance.Contract;

/// <summary>
/// Reads request timestamps and durations. A Timestamp outside 0001..9999 or with nanos out of
/// range, and a Duration that is not normalised or does not fit a TimeSpan, throw in
/// Google.Protobuf; here they are an INVALID_ARGUMENT naming the field, before anything runs.
/// </summary>
public static class ProtoTimes
{
    /// <summary>The instant <paramref name="value"/> names, or null when it is unset.</summary>
    public static DateTimeOffset? Read(Timestamp? value, string field)
    {
        if (value is null)
        {
            return null;
        }

        try
        {
            return value.ToDateTimeOffset();
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentOutOfRangeException or OverflowException)
        {
            throw GovernanceException.Invalid([new FieldProblem(field, "must be a valid timestamp within 0001-01-01..9999-12-31 (nanos within 0..999999999)")]);
        }
    }

    /// <summary>The span <paramref name="value"/> names, or null when it is unset.</summary>
    public static TimeSpan? Read(Duration? value, string field)
    {
        if (value is null)
        {
            return null;
        }

        try
        {
            return value.ToTimeSpan();
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentOutOfRangeException or OverflowException)
        {
            throw GovernanceException.Invalid([new FieldProblem(field, "must be a valid duration (seconds and nanos of one sign, nanos within -999999999..999999999) that fits ±10675199 days")]);
        }
    }
}
