/// Buffered reads from a byte source (a socket, a file), for parsing HTTP.
struct ByteReader {
  /// Why a read came up short.
  enum Failure: Error, Equatable {
    /// The source ended before the expected bytes arrived.
    case endOfStream
    /// A line was longer than allowed.
    case lineTooLong
  }

  private static let fillSize = 16 * 1024
  private let source: (UnsafeMutableRawBufferPointer) throws -> Int
  /// Unread bytes are `storage[start..<end]`.
  private var storage = [UInt8](repeating: 0, count: fillSize)
  private var start = 0
  private var end = 0

  /// Reads from `source`, which fills a buffer and returns the count, 0 at the end.
  init(source: @escaping (UnsafeMutableRawBufferPointer) throws -> Int) {
    self.source = source
  }

  /// Reads from a connected socket; the caller keeps ownership of `fd`.
  init(socket fd: Int32) {
    self.init { try UnixSocket.receive(fd, into: $0) }
  }

  /// The next line without its LF or CRLF, or nil if the source ended before any byte of it.
  mutating func readLine(maxLength: Int) throws -> [UInt8]? {
    var scanned = 0
    while true {
      if let newline = storage[(start + scanned)..<end].firstIndex(of: UInt8(ascii: "\n")) {
        var line = Array(storage[start..<newline])
        if line.last == UInt8(ascii: "\r") { line.removeLast() }
        start = newline + 1
        guard line.count <= maxLength else { throw Failure.lineTooLong }
        return line
      }
      scanned = end - start
      guard scanned <= maxLength + 1 else { throw Failure.lineTooLong }
      guard try fill() else {
        if scanned == 0 { return nil }
        throw Failure.endOfStream
      }
    }
  }

  /// Exactly `count` bytes: what is buffered, then reads from the source straight into the
  /// result (a request body of megabytes takes a few reads and no copy).
  mutating func read(count: Int) throws -> [UInt8] {
    let buffered = min(count, end - start)
    var ended = false
    let bytes = try [UInt8](unsafeUninitializedCapacity: count) { buffer, filled in
      filled = buffer.initialize(from: storage[start..<start + buffered]).1
      while filled < count {
        let read = try source(
          UnsafeMutableRawBufferPointer(UnsafeMutableBufferPointer(rebasing: buffer[filled...])))
        guard read > 0 else {
          ended = true
          return
        }
        filled += read
      }
    }
    start += buffered
    guard !ended else { throw Failure.endOfStream }
    return bytes
  }

  /// Between 1 and `maxCount` bytes, or none once the source has ended.
  mutating func readSome(maxCount: Int = .max) throws -> [UInt8] {
    if start == end {
      guard try fill() else { return [] }
    }
    let count = min(maxCount, end - start)
    defer { start += count }
    return Array(storage[start..<start + count])
  }

  /// Appends one read from the source, first dropping consumed bytes and adding room if little
  /// is left; false when the source has ended.
  private mutating func fill() throws -> Bool {
    if storage.count - end < Self.fillSize / 4 {
      storage.removeSubrange(0..<start)
      end -= start
      start = 0
      storage.append(contentsOf: repeatElement(0, count: Self.fillSize))
    }
    let count = try storage.withUnsafeMutableBytes {
      try source(UnsafeMutableRawBufferPointer(rebasing: $0[end...]))
    }
    end += count
    return count > 0
  }
}
