import GoRuntime

/// Why a Go process could not be inspected.
public enum GoProcessError: Error, Equatable, CustomStringConvertible {
  /// The process is gone (or a zombie whose memory is gone).
  case processExited(pid: Int32)
  /// The pid now names another process: its start time changed since the inspector opened it.
  case processReplaced(pid: Int32, expectedStartTime: UInt64, foundStartTime: UInt64)
  /// The process's executable is not a Go binary.
  case notGo(pid: Int32, executable: String)
  /// The process's Go binary cannot be used (no offsets, no runtime symbols, unsupported).
  case binary(pid: Int32, GoRuntimeError)
  /// The kernel refused access (not root, or ptrace rules).
  case permissionDenied(pid: Int32, operation: String)
  /// A read of the target's memory failed.
  case unreadable(pid: Int32, address: UInt64, count: Int, what: String, errno: Int32)
  /// A file under /proc could not be read or parsed.
  case procfs(pid: Int32, path: String, reason: String)
  /// A read larger than the reader's bound was asked for.
  case tooLarge(pid: Int32, what: String, count: Int, limit: Int)

  public var description: String {
    switch self {
    case .processExited(let pid): "process \(pid) has exited"
    case .processReplaced(let pid, let expected, let found):
      "pid \(pid) is another process now (start time \(found), expected \(expected))"
    case .notGo(let pid, let executable): "process \(pid) (\(executable)) is not a Go program"
    case .binary(let pid, let error): "process \(pid): \(error)"
    case .permissionDenied(let pid, let operation):
      "process \(pid): \(operation) not permitted (needs root or CAP_SYS_PTRACE)"
    case .unreadable(let pid, let address, let count, let what, let errno):
      "process \(pid): reading \(what) (\(count) bytes at 0x\(String(address, radix: 16))) "
        + "failed (errno \(errno))"
    case .procfs(let pid, let path, let reason): "process \(pid): \(path): \(reason)"
    case .tooLarge(let pid, let what, let count, let limit):
      "process \(pid): \(what) of \(count) bytes exceeds the \(limit)-byte limit"
    }
  }
}
