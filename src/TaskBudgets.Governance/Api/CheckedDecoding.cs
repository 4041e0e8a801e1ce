using System.Text;
using Google.Protobuf;
using Google.Rpc;
using Grpc.Core;
using TaskBudgets.Governance.Contract;

namespace TaskBudgets.Governance.Api;

/// <summary>
/// Binds a generated gRPC service with request marshallers that refuse bytes which are no request
/// at all: a message protobuf's parser refuses (bad wire format, invalid UTF-8, nesting too deep)
/// is INVALID_ARGUMENT with an ErrorInfo and a BadRequest naming the request, where grpc-dotnet
/// would answer UNKNOWN "Exception was thrown by handler." with no details. Each request is
/// decoded once, by grpc-dotnet, with this check around it; the frame around the message is
/// <see cref="RequestGuard"/>'s to check.
/// </summary>
public static class CheckedDecoding
{
    /// <summary>A binder that hands <paramref name="binder"/> each method with its request decoding checked.</summary>
    public static ServiceBinderBase Around(ServiceBinderBase binder) => new Binder(binder);

    private static Method<TRequest, TResponse> Checked<TRequest, TResponse>(Method<TRequest, TResponse> method)
        where TRequest : class
        where TResponse : class
    {
        var decode = method.RequestMarshaller.ContextualDeserializer;
        var requests = new Marshaller<TRequest>(method.RequestMarshaller.ContextualSerializer, context => Decode(context, decode));
        return new Method<TRequest, TResponse>(method.Type, method.ServiceName, method.Name, requests, method.ResponseMarshaller);
    }

    private static T Decode<T>(DeserializationContext context, Func<DeserializationContext, T> decode)
    {
        try
        {
            return decode(context);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw Refused(e.Message);
        }
        catch (DecoderFallbackException)
        {
            throw Refused("a string field is not valid UTF-8");
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or OverflowException)
        {
            throw Refused("the message is not valid protobuf wire format");
        }
    }

    private static RpcException Refused(string problem) => RpcErrors.Malformed(problem).ToRpcException();

    private sealed class Binder(ServiceBinderBase inner) : ServiceBinderBase
    {
        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, UnaryServerMethod<TRequest, TResponse>? handler) =>
            inner.AddMethod(Checked(method), handler);

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, ClientStreamingServerMethod<TRequest, TResponse>? handler) =>
            inner.AddMethod(Checked(method), handler);

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, ServerStreamingServerMethod<TRequest, TResponse>? handler) =>
            inner.AddMethod(Checked(method), handler);

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, DuplexStreamingServerMethod<TRequest, TResponse>? handler) =>
            inner.AddMethod(Checked(method), handler);
    }
}
