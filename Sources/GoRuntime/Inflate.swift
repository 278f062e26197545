import CZlib

/// zlib decompression that never produces (or allocates for) more than a caller's limit.
enum Inflate {
  /// The decompressed stream, or nil if it is corrupt or would exceed `limit` bytes.
  static func zlib(_ input: ArraySlice<UInt8>, limit: Int) -> [UInt8]? {
    var stream = z_stream()
    guard vigil_inflate_init(&stream) == Z_OK else { return nil }
    defer { inflateEnd(&stream) }
    var output: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    let status: Int32 = input.withUnsafeBufferPointer { source in
      stream.next_in = UnsafeMutablePointer(mutating: source.baseAddress)
      stream.avail_in = UInt32(source.count)
      while true {
        let result = chunk.withUnsafeMutableBufferPointer { buffer in
          stream.next_out = buffer.baseAddress
          stream.avail_out = UInt32(buffer.count)
          return inflate(&stream, Z_NO_FLUSH)
        }
        let produced = chunk.count - Int(stream.avail_out)
        guard output.count + produced <= limit else { return Z_BUF_ERROR }
        output += chunk[..<produced]
        // Z_BUF_ERROR with no progress: the input ended before the stream did.
        if result != Z_OK || produced == 0 { return result }
      }
    }
    return status == Z_STREAM_END ? output : nil
  }
}
