import Glibc
import Synchronization

/// A minimal HTTP/1.1 server on a unix or TCP stream socket: one thread accepts, and each
/// connection gets a thread of its own that serves one request and closes.
public final class HTTPServer: Sendable {
  /// Where the server listens.
  public let address: ListenAddress
  private let handler: @Sendable (HTTPRequest) -> HTTPResponse
  private let maxBodyBytes: Int
  private let state = Mutex(State.idle)
  private let connections = ConnectionRegistry()

  private enum State {
    case idle
    /// The listening socket, owned by the server and closed by ``stop()``.
    case running(ListeningSocket, acceptThread: pthread_t)
    case stopped
  }

  /// A server that will listen on `address` and answer each request with `handler` (called on
  /// connection threads), refusing request bodies over `maxBodyBytes` with 413.
  public init(
    _ address: ListenAddress, maxBodyBytes: Int = 1 << 20,
    handler: @escaping @Sendable (HTTPRequest) -> HTTPResponse
  ) {
    self.address = address
    self.maxBodyBytes = maxBodyBytes
    self.handler = handler
  }

  deinit {
    stop()
  }

  /// The group that owns the unix socket file while running; its members may make mutating calls
  /// (see ``PeerCredentials/allowsMutation(socketGroup:)``). Nil for TCP.
  public var socketGroup: UInt32? {
    state.withLock { state in
      guard case .running(let socket, _) = state else { return nil }
      return socket.file?.group
    }
  }

  /// The TCP port while running: the kernel's pick if `address` asked for port 0. Nil for unix.
  public var port: UInt16? {
    state.withLock { state in
      guard case .running(let socket, _) = state else { return nil }
      return socket.port
    }
  }

  /// Binds and listens on ``address`` and starts accepting. For a unix socket, first creates the
  /// parent directory (0755) if needed and replaces a stale socket file that nothing listens on.
  /// Call once.
  public func start() throws {
    try state.withLock { state in
      guard case .idle = state else { preconditionFailure("HTTPServer.start() called twice") }
      let socket = try ListeningSocket.listen(on: address)
      let peer: PeerCredentials? = if case .tcp = address { .network } else { nil }
      do {
        let thread = try ListeningSocket.step("start a thread for", address.description) {
          try POSIXThread.start(joinable: true) { [connections, handler, maxBodyBytes] in
            Self.acceptLoop(
              listener: socket.fd, peer: peer, connections: connections,
              maxBodyBytes: maxBodyBytes, handler: handler)
          }
        }
        state = .running(socket, acceptThread: thread)
      } catch {
        socket.close()
        throw error
      }
    }
  }

  /// Stops accepting, cuts off open connections (streams see their writes fail), waits briefly
  /// for their threads, closes the socket and removes its file. Safe to call more than once.
  public func stop() {
    let running: (ListeningSocket, pthread_t)? = state.withLock { state in
      defer { state = .stopped }
      guard case .running(let socket, let thread) = state else { return nil }
      return (socket, thread)
    }
    guard let (socket, thread) = running else { return }
    shutdown(socket.fd, Int32(SHUT_RDWR))
    pthread_join(thread, nil)
    socket.close()
    connections.shutDownAll()
    connections.waitUntilEmpty(timeoutSeconds: 2)
  }

  /// Accepts connections until ``stop()`` shuts the listener down; `peer` is passed to each
  /// ``Connection``.
  private static func acceptLoop(
    listener: Int32, peer: PeerCredentials?, connections: ConnectionRegistry, maxBodyBytes: Int,
    handler: @escaping @Sendable (HTTPRequest) -> HTTPResponse
  ) {
    while true {
      var entry = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
      guard poll(&entry, 1, -1) >= 0 || errno == EINTR else { return }
      if entry.revents & Int16(POLLHUP) != 0 { return }
      guard entry.revents & Int16(POLLIN) != 0 else { continue }
      let fd = accept(listener, nil, nil)
      guard fd >= 0 else {
        switch errno {
        case EINTR, EAGAIN, ECONNABORTED, EPROTO: continue
        case EMFILE, ENFILE, ENOBUFS, ENOMEM: usleep(100_000)
        default: return
        }
        continue
      }
      _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
      guard let id = connections.register(fd) else {
        close(fd)
        continue
      }
      do {
        _ = try POSIXThread.start(joinable: false) {
          Connection(fd: fd, knownPeer: peer, handler: handler, maxBodyBytes: maxBodyBytes).serve()
          connections.unregister(id)
          close(fd)
        }
      } catch {
        connections.unregister(id)
        close(fd)
      }
    }
  }
}
