using System.Buffers.Text;
using System.Security.Cryptography;
using Google.Protobuf;

namespace TaskBudgets.Cli;

/// <summary>
/// A resource's etag computed as the server computes it (AdminChanges.Etag): the first 12 bytes of
/// the SHA-256 of the message without its etag, base64url. `apply` compares the file's resources
/// with the service's by it, so the two must stay alike; CliTests' second apply changing nothing
/// is what shows they are.
/// </summary>
internal static class ResourceEtag
{
    public static string Of(IMessage resource)
    {
        var copy = resource.Descriptor.Parser.ParseFrom(resource.ToByteString());
        resource.Descriptor.FindFieldByName("etag")?.Accessor.Clear(copy);
        return Base64Url.EncodeToString(SHA256.HashData(copy.ToByteArray()).AsSpan(0, 12));
    }
}
