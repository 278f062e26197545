import Glibc

/// The errno of a failed system call, captured right after it failed.
struct SystemCallError: Error, Equatable {
  let code: Int32

  /// The current thread's errno.
  static var current: SystemCallError { SystemCallError(code: errno) }

  /// The C library's message for the code, or "timed out" for a socket timeout.
  var message: String {
    code == EAGAIN || code == EWOULDBLOCK ? "timed out" : String(cString: strerror(code))
  }
}
