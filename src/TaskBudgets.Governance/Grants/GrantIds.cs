using System.Buffers.Binary;
using System.Security.Cryptography;
using TaskBudgets.Governance.Quotas;

namespace TaskBudgets.Governance.Grants;

/// <summary>
/// 128-bit grant ids that sort by issue time: 48 bits of Unix milliseconds (big-endian, as in a
/// UUIDv7), then 80 random bits. A grant id is its settlement's primary key, and random keys put
/// every insert of a group commit on a different index page, so a commit writes many more pages,
/// and SQL Server's clustered key splits pages. Time-ordered keys all land at the end of the index. The random part comes
/// from the system's cryptographic generator, drawn 256 ids at a time per thread (a kernel call
/// per id would be on GetBudget's path); 80 random bits within one millisecond keep ids
/// unique across replicas. Ids need not be secret: a grant is only honoured with its signed token.
/// </summary>
internal static class GrantIds
{
    private const int RandomBytes = 10;
    private const int IdsPerFill = 256;

    [ThreadStatic]
    private static byte[]? random;

    [ThreadStatic]
    private static int next;

    /// <summary>The id's 16 bytes: the time of issue first, so byte (and hex) order is time order.</summary>
    public static byte[] Next(DateTimeOffset issuedAt)
    {
        var bytes = random;
        if (bytes is null || next >= bytes.Length)
        {
            bytes = random ??= new byte[RandomBytes * IdsPerFill];
            RandomNumberGenerator.Fill(bytes);
            next = 0;
        }

        var id = new byte[16];
        Span<byte> time = stackalloc byte[8];
        BinaryPrimitives.WriteInt64BigEndian(time, issuedAt.ToUnixTimeMilliseconds());
        time[2..].CopyTo(id);
        bytes.AsSpan(next, RandomBytes).CopyTo(id.AsSpan(6));

        // Spent bytes are wiped, so a later reader of this buffer cannot learn issued ids.
        bytes.AsSpan(next, RandomBytes).Clear();
        next += RandomBytes;
        return id;
    }
}
