using Grpc.Core;

namespace TaskBudgets.Cli;

/// <summary>The exit codes scripts can rely on.</summary>
public static class ExitCodes
{
    public const int Ok = 0;

    /// <summary>Bad flags or arguments, a bad policy file, or a request the server found invalid.</summary>
    public const int Usage = 1;

    public const int NotFound = 2;

    /// <summary>No key, a wrong or revoked key, or a key that may not do this.</summary>
    public const int Permission = 3;

    /// <summary>A stale etag, something that already exists, or a precondition such as a tier still in use.</summary>
    public const int Conflict = 4;

    /// <summary>The server cannot be reached or is not ready.</summary>
    public const int Unavailable = 5;

    public const int Other = 10;

    public static int For(StatusCode code) => code switch
    {
        StatusCode.OK => Ok,
        StatusCode.InvalidArgument or StatusCode.OutOfRange => Usage,
        StatusCode.NotFound => NotFound,
        StatusCode.Unauthenticated or StatusCode.PermissionDenied => Permission,
        StatusCode.Aborted or StatusCode.AlreadyExists or StatusCode.FailedPrecondition => Conflict,
        StatusCode.Unavailable or StatusCode.DeadlineExceeded => Unavailable,
        _ => Other,
    };
}

/// <summary>No API key given anywhere: the exit code is 3, as for a bad key.</summary>
public sealed class NoKeyException(string message) : Exception(message);

/// <summary>A mistake in how the CLI was called: its message is for the user, and the exit code is 1.</summary>
public sealed class UsageException(string message) : Exception(message);
