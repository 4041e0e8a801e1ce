using System.IO.Compression;
using Google.Rpc;
using Grpc.Core;
using Grpc.Net.Compression;
using TaskBudgets.Governance.Contract;

namespace TaskBudgets.Governance.Api;

/// <summary>
/// gzip for gRPC messages, as grpc-dotnet's own provider, with clear refusals: a compressed
/// message that does not inflate is INVALID_ARGUMENT <c>MALFORMED_REQUEST</c>, and one that
/// inflates past <paramref name="limit"/> bytes is RESOURCE_EXHAUSTED <c>MESSAGE_TOO_LARGE</c>,
/// each with details, where grpc-dotnet would answer UNKNOWN or a bare status. The limit is
/// checked while inflating, so a small message that inflates to gigabytes costs the limit only.
/// <see cref="RequestGuard"/> checks the compressed frame's size; <see cref="CheckedDecoding"/>
/// checks the inflated message.
/// </summary>
public sealed class CheckedGzip(int limit) : ICompressionProvider
{
    private readonly GzipCompressionProvider gzip = new(CompressionLevel.Fastest);

    /// <inheritdoc/>
    public string EncodingName => gzip.EncodingName;

    /// <inheritdoc/>
    public Stream CreateCompressionStream(Stream stream, CompressionLevel? compressionLevel) => gzip.CreateCompressionStream(stream, compressionLevel);

    /// <inheritdoc/>
    public Stream CreateDecompressionStream(Stream stream) => new Inflating(gzip.CreateDecompressionStream(stream), limit);

    private sealed class Inflating(Stream inner, int limit) : Stream
    {
        private long inflated;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => inflated; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            int read;
            try
            {
                read = inner.Read(buffer);
            }
            catch (InvalidDataException)
            {
                throw RpcErrors.Malformed("the message is compressed but is not valid gzip").ToRpcException();
            }

            return Counted(read);
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            int read;
            try
            {
                read = await inner.ReadAsync(buffer, cancellationToken);
            }
            catch (InvalidDataException)
            {
                throw RpcErrors.Malformed("the message is compressed but is not valid gzip").ToRpcException();
            }

            return Counted(read);
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
            }

            base.Dispose(disposing);
        }

        private int Counted(int read)
        {
            inflated += read;
            if (inflated > limit)
            {
                throw RpcErrors.TooLarge(inflated, limit).ToRpcException();
            }

            return read;
        }
    }
}
