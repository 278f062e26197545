import Glibc
import Synchronization

/// An owned file descriptor: closed exactly once, by `close()` or on deinit.
///
/// Safe to share: the fd number is immutable until closed, and closing is atomic.
public final class OwnedFD: Sendable {
  private let fd: Atomic<Int32>

  /// Takes ownership of `rawValue`.
  public init(taking rawValue: Int32) { fd = Atomic(rawValue) }

  /// The descriptor number, or -1 once closed.
  public var rawValue: Int32 { fd.load(ordering: .acquiring) }

  /// A new descriptor for the same object (`F_DUPFD_CLOEXEC`), owned by the result.
  public func duplicate(context: String) throws(BPFError) -> OwnedFD {
    try OwnedFD.duplicating(rawValue, context: context)
  }

  /// An owned copy of a descriptor someone else owns (e.g. libbpf's), leaving the original alone.
  public static func duplicating(_ raw: Int32, context: String) throws(BPFError) -> OwnedFD {
    let copy = fcntl(raw, F_DUPFD_CLOEXEC, 3)
    guard copy >= 0 else {
      throw BPFError(function: "fcntl(F_DUPFD_CLOEXEC)", context: context, errno: errno)
    }
    return OwnedFD(taking: copy)
  }

  /// Closes now; later calls do nothing.
  public func close() {
    let old = fd.exchange(-1, ordering: .acquiringAndReleasing)
    if old >= 0 { _ = Glibc.close(old) }
  }

  deinit { close() }
}
