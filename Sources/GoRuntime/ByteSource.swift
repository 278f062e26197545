import Foundation

/// Bounds-checked reads from a file (with `pread`, so only what is parsed is in memory) or a buffer.
final class ByteSource: Sendable {
  enum Storage {
    case memory([UInt8])
    case file(Int32)
  }

  /// No single read is larger than this, whatever the file claims.
  static let maxRead = 512 << 20

  let path: String
  let size: UInt64
  private let storage: Storage

  init(bytes: [UInt8]) {
    (path, size, storage) = ("<memory>", UInt64(bytes.count), .memory(bytes))
  }

  init(path: String) throws {
    // O_NONBLOCK: a FIFO swapped in at the path must not hang the caller.
    let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
    guard fd >= 0 else { throw GoRuntimeError.io(path: path, operation: "open", errno: errno) }
    var info = stat()
    guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
      let error = errno
      close(fd)
      throw error == 0
        ? GoRuntimeError.unsupported(path: path, reason: "not a regular file")
        : GoRuntimeError.io(path: path, operation: "fstat", errno: error)
    }
    (self.path, size, storage) = (path, UInt64(max(info.st_size, 0)), .file(fd))
  }

  deinit {
    if case .file(let fd) = storage { close(fd) }
  }

  func malformed(_ reason: String) -> GoRuntimeError { .malformed(path: path, reason: reason) }

  /// `count` bytes at file offset `offset`, or an error if they are not all in the file.
  func read(at offset: UInt64, count: UInt64, what: String) throws -> [UInt8] {
    guard offset <= size, count <= size - offset else {
      throw malformed(
        "\(what) at 0x\(String(offset, radix: 16)) (+0x\(String(count, radix: 16))) beyond the end")
    }
    guard count <= Self.maxRead else { throw malformed("\(what) too large (\(count) bytes)") }
    let (start, count) = (Int(offset), Int(count))
    switch storage {
    case .memory(let bytes):
      return Array(bytes[start..<start + count])
    case .file(let fd):
      return try [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
        while initialized < count {
          let n = pread(
            fd, buffer.baseAddress! + initialized, count - initialized, off_t(start + initialized))
          if n < 0 && errno == EINTR { continue }
          guard n > 0 else {
            throw n == 0
              ? malformed("file shrank while reading \(what)")
              : GoRuntimeError.io(path: path, operation: "read", errno: errno)
          }
          initialized += n
        }
      }
    }
  }
}
