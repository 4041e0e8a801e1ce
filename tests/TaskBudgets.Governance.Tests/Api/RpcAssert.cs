using Google.Rpc;
using Grpc.Core;

namespace TaskBudgets.Governance.Tests.Api;

/// <summary>Checks a gRPC failure down to its google.rpc details.</summary>
public static class RpcAssert
{
    public static async Task<Google.Rpc.Status> FailsAsync(StatusCode code, string reason, Func<Task> call)
    {
        var error = await Assert.ThrowsAsync<RpcException>(call);
        Assert.Equal(code, error.StatusCode);
        var status = error.GetRpcStatus();
        Assert.NotNull(status);
        var info = status.GetDetail<ErrorInfo>();
        Assert.NotNull(info);
        Assert.Equal(reason, info.Reason);
        Assert.Equal("taskbudgets.v1", info.Domain);
        Assert.False(string.IsNullOrWhiteSpace(status.Message));
        return status;
    }

    public static void NamesField(Google.Rpc.Status status, string field)
    {
        var bad = status.GetDetail<BadRequest>();
        Assert.NotNull(bad);
        Assert.Contains(bad.FieldViolations, v => v.Field == field);
    }
}
