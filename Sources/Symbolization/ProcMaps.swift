import Foundation

/// One line of /proc/PID/maps.
public struct MemoryMapping: Sendable, Equatable {
  public var start: UInt64
  /// Exclusive.
  public var end: UInt64
  public var fileOffset: UInt64
  /// The mapped file, a pseudo name (`[vdso]`, `[heap]`), or empty for anonymous memory. A file
  /// removed since it was mapped ends with " (deleted)".
  public var path: String
  public var isExecutable: Bool
  public var inode: UInt64
  /// `major:minor` in hex, as the kernel prints it.
  public var device: String

  public init(
    start: UInt64, end: UInt64, fileOffset: UInt64, path: String, isExecutable: Bool, inode: UInt64,
    device: String
  ) {
    self.start = start
    self.end = end
    self.fileOffset = fileOffset
    self.path = path
    self.isExecutable = isExecutable
    self.inode = inode
    self.device = device
  }

  /// Whether the mapping is backed by a file that may be opened (not anonymous, not `[vdso]`).
  public var isFileBacked: Bool { inode != 0 && path.hasPrefix("/") }
}

/// Reads the memory map of a process.
public enum ProcMaps {
  /// Parses the text of /proc/PID/maps; malformed lines are skipped.
  public static func parse(_ text: String) -> [MemoryMapping] {
    text.split(separator: "\n").compactMap(parseLine)
  }

  /// Reads and parses /proc/PID/maps.
  public static func read(pid: Int32) throws -> [MemoryMapping] {
    parse(try readProcFile("/proc/\(pid)/maps", limit: 64 << 20))
  }

  /// `start-end perms offset dev inode [path]`; the path may contain spaces.
  static func parseLine(_ line: Substring) -> MemoryMapping? {
    var rest = line
    func field() -> Substring? {
      rest = rest.drop { $0 == " " }
      let value = rest.prefix { $0 != " " }
      rest = rest[value.endIndex...]
      return value.isEmpty ? nil : value
    }
    guard let range = field(), let perms = field(), let offset = field(), let device = field(),
      let inode = field().flatMap({ UInt64($0) }), let fileOffset = UInt64(offset, radix: 16)
    else { return nil }
    let bounds = range.split(separator: "-")
    guard bounds.count == 2, let start = UInt64(bounds[0], radix: 16),
      let end = UInt64(bounds[1], radix: 16), start < end
    else { return nil }
    return MemoryMapping(
      start: start, end: end, fileOffset: fileOffset, path: String(rest.drop { $0 == " " }),
      isExecutable: perms.dropFirst(2).first == "x", inode: inode, device: String(device))
  }
}

/// Reads a whole (procfs) file, whose size `stat` does not report, up to `limit` bytes.
private func readProcFile(_ path: String, limit: Int) throws -> String {
  let fd = open(path, O_RDONLY | O_CLOEXEC)
  guard fd >= 0 else { throw SymbolizationError.io(path: path, operation: "open", errno: errno) }
  defer { close(fd) }
  var data: [UInt8] = []
  var chunk = [UInt8](repeating: 0, count: 64 << 10)
  while data.count < limit {
    let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
    if n < 0 && errno == EINTR { continue }
    guard n >= 0 else { throw SymbolizationError.io(path: path, operation: "read", errno: errno) }
    if n == 0 { break }
    data += chunk[..<n]
  }
  return String(decoding: data, as: UTF8.self)
}
