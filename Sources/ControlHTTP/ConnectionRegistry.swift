import Glibc
import Synchronization

/// The server's open connections, so that stopping can cut them off and wait for them.
///
/// It borrows each socket from its connection thread: the thread unregisters the socket before
/// closing it, and ``shutDownAll()`` shuts sockets down under the same lock, so it never touches
/// a closed (or reused) descriptor.
final class ConnectionRegistry: Sendable {
  private struct State {
    var sockets: [Int: Int32] = [:]
    var nextID = 0
    var isClosed = false
  }

  private let state = Mutex(State())

  /// Registers `fd`, returning its key, or nil once the registry is closed.
  func register(_ fd: Int32) -> Int? {
    state.withLock { state in
      guard !state.isClosed else { return nil }
      state.nextID += 1
      state.sockets[state.nextID] = fd
      return state.nextID
    }
  }

  func unregister(_ id: Int) {
    _ = state.withLock { $0.sockets.removeValue(forKey: id) }
  }

  /// Refuses new connections and shuts down the open ones, which ends their reads and writes.
  func shutDownAll() {
    state.withLock { state in
      state.isClosed = true
      for fd in state.sockets.values { shutdown(fd, Int32(SHUT_RDWR)) }
    }
  }

  /// Waits until every connection has unregistered, or `timeoutSeconds` have passed.
  func waitUntilEmpty(timeoutSeconds: Double) {
    var waited = 0.0
    while waited < timeoutSeconds, !state.withLock({ $0.sockets.isEmpty }) {
      usleep(10_000)
      waited += 0.01
    }
  }
}
