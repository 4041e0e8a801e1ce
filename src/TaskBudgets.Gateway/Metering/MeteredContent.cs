using System.Net;

namespace TaskBudgets.Gateway.Metering;

/// <summary>The upstream answer's content, read through an <see cref="AnswerTap"/> as the proxy copies it to the caller.</summary>
internal sealed class MeteredContent : HttpContent
{
    private readonly HttpContent inner;
    private readonly AnswerTap tap;

    public MeteredContent(HttpContent inner, AnswerTap tap)
    {
        this.inner = inner;
        this.tap = tap;
        foreach (var header in inner.Headers)
        {
            Headers.TryAddWithoutValidation(header.Key, header.Value);
        }
    }

    protected override async Task<Stream> CreateContentReadStreamAsync(CancellationToken cancellationToken) =>
        new TapStream(await inner.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false), tap);

    protected override Task<Stream> CreateContentReadStreamAsync() => CreateContentReadStreamAsync(CancellationToken.None);

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        await using var source = await CreateContentReadStreamAsync(cancellationToken).ConfigureAwait(false);
        await source.CopyToAsync(stream, cancellationToken).ConfigureAwait(false);
    }

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
        SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override bool TryComputeLength(out long length)
    {
        length = 0;
        return false;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            inner.Dispose();
        }

        base.Dispose(disposing);
    }

    /// <summary>A read-only stream that shows every byte read to the tap, and tells it when the answer ends.</summary>
    private sealed class TapStream(Stream source, AnswerTap tap) : Stream
    {
        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var read = await source.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
            See(buffer.Span[..read], buffer.Length);
            return read;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override int Read(byte[] buffer, int offset, int count)
        {
            var read = source.Read(buffer, offset, count);
            See(buffer.AsSpan(offset, read), count);
            return read;
        }

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
                source.Dispose();
            }

            base.Dispose(disposing);
        }

        private void See(ReadOnlySpan<byte> bytes, int asked)
        {
            // A zero-byte read (waiting for data without a buffer) is not the end.
            if (bytes.Length == 0 && asked > 0)
            {
                tap.End();
            }
            else if (bytes.Length > 0)
            {
                tap.Write(bytes);
            }
        }
    }
}
