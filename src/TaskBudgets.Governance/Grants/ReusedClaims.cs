using Google.Protobuf.Collections;

namespace TaskBudgets.Governance.Grants;

/// <summary>
/// One <see cref="GrantClaims"/> per thread, filled in and signed by each grant the thread issues:
/// the claims live only until their token is written, and every GetBudget would otherwise allocate
/// them and a <see cref="ReservationClaim"/> per quota.
/// </summary>
/// <remarks>
/// The issuer sets every field on every grant (an optional one it has no value for is cleared),
/// so nothing of one grant's claims reaches the next one's token.
/// </remarks>
internal static class ReusedClaims
{
    [ThreadStatic]
    private static GrantClaims? claims;

    public static GrantClaims ForThisThread() => claims ??= new GrantClaims();

    /// <summary>Exactly <paramref name="count"/> reservation claims, reusing the ones the last grant had.</summary>
    public static RepeatedField<ReservationClaim> Reservations(GrantClaims claims, int count)
    {
        ArgumentNullException.ThrowIfNull(claims);
        var reservations = claims.Reservations;
        while (reservations.Count > count)
        {
            reservations.RemoveAt(reservations.Count - 1);
        }

        while (reservations.Count < count)
        {
            reservations.Add(new ReservationClaim());
        }

        return reservations;
    }
}
