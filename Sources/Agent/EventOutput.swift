import Foundation

/// Where blocking events and leak reports are logged as JSON lines: stdout, a file, or nowhere.
public final class EventOutput: @unchecked Sendable {
  // Unchecked: the buffer is guarded by `lock` (the event processor and the goroutine watcher
  // both write).
  private let handle: FileHandle?
  private var buffer: [UInt8] = []
  private let lock = NSLock()

  /// Events to standard output.
  public static func standardOutput() -> EventOutput { EventOutput(handle: .standardOutput) }
  /// Events dropped (still available through the API).
  public static func none() -> EventOutput { EventOutput(handle: nil) }

  /// Events appended to the file at `path` (created if missing).
  public static func file(_ path: String) throws -> EventOutput {
    if !FileManager.default.fileExists(atPath: path) {
      guard FileManager.default.createFile(atPath: path, contents: nil) else {
        throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path])
      }
    }
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
    try handle.seekToEnd()
    return EventOutput(handle: handle)
  }

  private init(handle: FileHandle?) { self.handle = handle }

  /// False when lines go nowhere (`none`).
  var isEnabled: Bool { handle != nil }

  /// Buffers one line; `flush` writes it.
  func write(_ line: String) {
    guard handle != nil else { return }
    lock.withLock {
      buffer.append(contentsOf: line.utf8)
      buffer.append(UInt8(ascii: "\n"))
      if buffer.count >= 64 * 1024 { flushLocked() }
    }
  }

  /// Writes one line and everything buffered before it.
  func writeNow(_ line: String) {
    write(line)
    flush()
  }

  func flush() { lock.withLock { flushLocked() } }

  private func flushLocked() {
    guard let handle, !buffer.isEmpty else { return }
    try? handle.write(contentsOf: buffer)
    buffer.removeAll(keepingCapacity: true)
  }
}
