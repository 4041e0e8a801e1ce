using Grpc.Core;

namespace TaskBudgets.Governance.Auth;

/// <summary>What a key may do; each role may do everything the one before it may, within its org.</summary>
public enum KeyRole
{
    /// <summary>BudgetService for its org only.</summary>
    Caller = 1,

    /// <summary>A caller's rights and the admin RPCs that name its org.</summary>
    OrgAdmin = 2,

    /// <summary>Everything, for every org.</summary>
    Admin = 3,
}

/// <summary>The key behind a call: its public id, role and org (empty for admin keys).</summary>
public sealed record CallerIdentity(string KeyId, KeyRole Role, string OrgId)
{
    private const string Slot = "taskbudgets.identity";

    public bool IsAdmin => Role == KeyRole.Admin;

    /// <summary>The identity the auth interceptor attached to the call.</summary>
    public static CallerIdentity Of(ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return context.UserState.TryGetValue(Slot, out var value) && value is CallerIdentity identity
            ? identity
            : throw new InvalidOperationException("The call has no identity: is the auth interceptor registered?");
    }

    public void AttachTo(ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        context.UserState[Slot] = this;
    }
}
