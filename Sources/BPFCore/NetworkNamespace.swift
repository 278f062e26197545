internal import CLibBPF
import Foundation
import Glibc

/// Running code inside another network namespace.
///
/// `ip netns exec` remounts /sys (hiding bpffs), so the daemon enters namespaces
/// itself: `setns` applies to the calling thread only, so the work runs on a
/// short-lived thread of its own and the daemon's threads never change namespace.
public enum NetworkNamespace {
  /// The path of a namespace given as a name under /var/run/netns or as a path.
  public static func path(_ nameOrPath: String) -> String {
    nameOrPath.hasPrefix("/") ? nameOrPath : "/var/run/netns/\(nameOrPath)"
  }

  /// Runs `body` on a new thread inside namespace `nameOrPath` (nil: this one).
  public static func run<T: Sendable>(
    in nameOrPath: String?, _ body: @escaping @Sendable () throws -> T
  ) throws -> T {
    guard let nameOrPath else { return try body() }
    let path = path(nameOrPath)
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else {
      throw BPFError(function: "open", context: "network namespace \(path)", errno: errno)
    }
    let namespace = OwnedFD(taking: fd)
    let result = LockedResult<T>()
    let done = DispatchSemaphore(value: 0)
    let thread = Thread {
      defer { done.signal() }
      let entered = vigil_setns(namespace.rawValue, 0x4000_0000)  // CLONE_NEWNET
      guard entered == 0 else {
        result.set(
          .failure(BPFError(function: "setns", context: "entering \(path)", errno: -entered)))
        return
      }
      result.set(Result { try body() })
    }
    thread.start()
    done.wait()
    return try result.get()
  }

  /// The cookie of the calling thread's network namespace (what `bpf_get_netns_cookie` returns).
  public static func currentCookie() throws(BPFError) -> UInt64 {
    let socket = Glibc.socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard socket >= 0 else {
      throw BPFError(function: "socket", context: "netns cookie", errno: errno)
    }
    defer { close(socket) }
    var cookie: UInt64 = 0
    let result = vigil_netns_cookie(socket, &cookie)
    guard result == 0 else {
      throw BPFError(
        function: "getsockopt(SO_NETNS_COOKIE)", context: "netns cookie", errno: -result)
    }
    return cookie
  }

  /// The index of interface `name` in the calling thread's namespace.
  public static func interfaceIndex(_ name: String) throws(BPFError) -> UInt32 {
    let index = if_nametoindex(name)
    guard index != 0 else {
      throw BPFError(
        function: "if_nametoindex", context: "interface \(name)", errno: errno == 0 ? ENODEV : errno
      )
    }
    return index
  }
}

/// A result handed from a worker thread to its waiter.
private final class LockedResult<T: Sendable>: @unchecked Sendable {
  // Unchecked: written once by the worker before the semaphore, read after it.
  private var value: Result<T, any Error>?
  func set(_ result: Result<T, any Error>) { value = result }
  func get() throws -> T { try value!.get() }
}
