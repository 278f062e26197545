import Glibc

/// A failed BPF operation: which call failed, the errno, and, for a program
/// the verifier rejected, the verifier's whole log.
public struct BPFError: Error, CustomStringConvertible, Sendable {
  /// The libbpf function or syscall that failed, e.g. `bpf_object__load`.
  public var function: String
  /// What was being done, e.g. `loading blocking.bpf.o`.
  public var context: String
  public var errno: Int32
  /// libbpf's own messages for this call; for a rejected program, the verifier log.
  public var log: String?

  public init(function: String, context: String, errno: Int32, log: String? = nil) {
    self.function = function
    self.context = context
    self.errno = errno
    self.log = log
  }

  /// The errno's text.
  public var message: String { String(cString: strerror(errno)) }

  public var description: String {
    var text = "\(context): \(function) failed: \(message) (errno \(errno))"
    if errno == EPERM || errno == EACCES && log == nil {
      text += "; BPF needs root (CAP_BPF, CAP_PERFMON) and a raised memlock limit"
    }
    if let log, !log.isEmpty { text += "\n\(log)" }
    return text
  }

  /// The error for a libbpf call that returned a negative errno or NULL with errno set.
  static func libbpf(
    _ function: String, _ context: String, result: Int32? = nil, log: String? = nil
  )
    -> BPFError
  {
    let code = result.map { $0 < 0 ? -$0 : $0 } ?? Glibc.errno
    return BPFError(
      function: function, context: context, errno: code == 0 ? EINVAL : code, log: log)
  }
}
