import Glibc
import Synchronization

/// A minimal HTTP/1.1 server on an AF_UNIX stream socket: one thread accepts, and each
/// connection gets a thread of its own that serves one request and closes.
public final class UnixHTTPServer: Sendable {
  /// The socket file's path.
  public let path: String
  private let mode: mode_t
  private let groupName: String?
  private let handler: @Sendable (HTTPRequest) -> HTTPResponse
  private let state = Mutex(State.idle)
  private let connections = ConnectionRegistry()

  private enum State {
    case idle
    case running(Listener)
    case stopped
  }

  /// The listening socket, owned by the server and closed by ``stop()``.
  private struct Listener {
    var fd: Int32
    var acceptThread: pthread_t
    var device: UInt
    var inode: UInt
    var group: UInt32
  }

  /// A server that will listen on `path` with permissions `mode`, its group set to `groupName`
  /// if that group exists, and answer each request with `handler` (called on connection threads).
  public init(
    path: String, mode: mode_t = 0o660, groupName: String? = "vigil",
    handler: @escaping @Sendable (HTTPRequest) -> HTTPResponse
  ) {
    self.path = path
    self.mode = mode
    self.groupName = groupName
    self.handler = handler
  }

  deinit {
    stop()
  }

  /// The group that owns the socket file while running; its members may make mutating calls
  /// (see ``PeerCredentials/allowsMutation(socketGroup:)``).
  public var socketGroup: UInt32? {
    state.withLock { state in
      guard case .running(let listener) = state else { return nil }
      return listener.group
    }
  }

  /// Creates the parent directory (0755) if needed, replaces a stale socket file that nothing
  /// listens on, binds, sets mode and group, listens and starts accepting. Call once.
  public func start() throws {
    try state.withLock { state in
      guard case .idle = state else { preconditionFailure("UnixHTTPServer.start() called twice") }
      state = .running(try listen())
    }
  }

  /// Stops accepting, cuts off open connections (streams see their writes fail), waits briefly
  /// for their threads, closes the socket and removes its file. Safe to call more than once.
  public func stop() {
    let listener: Listener? = state.withLock { state in
      defer { state = .stopped }
      guard case .running(let listener) = state else { return nil }
      return listener
    }
    guard let listener else { return }
    shutdown(listener.fd, Int32(SHUT_RDWR))
    pthread_join(listener.acceptThread, nil)
    if let identity = Self.fileIdentity(path), identity == (listener.device, listener.inode) {
      unlink(path)
    }
    close(listener.fd)
    connections.shutDownAll()
    connections.waitUntilEmpty(timeoutSeconds: 2)
  }

  private func listen() throws -> Listener {
    try step("create the directory of") { try Self.makeDirectory(Self.parent(of: path)) }
    try removeStaleSocket()
    let fd = try step("create a socket for") { try UnixSocket.make() }
    var bound = false
    do {
      try step("bind") { try UnixSocket.bind(fd, to: path) }
      bound = true
      try step("chmod") { try check(chmod(path, mode)) }
      if let groupName, let group = Self.groupID(named: groupName) {
        try step("chown") { try check(chown(path, uid_t.max, group)) }
      }
      var info = stat()
      try step("stat") { try check(stat(path, &info)) }
      try step("listen on") { try check(Glibc.listen(fd, 64)) }
      let thread = try step("start a thread for") {
        try POSIXThread.start(joinable: true) { [connections, handler] in
          Self.acceptLoop(listener: fd, connections: connections, handler: handler)
        }
      }
      return Listener(
        fd: fd, acceptThread: thread, device: info.st_dev, inode: info.st_ino, group: info.st_gid)
    } catch {
      if bound { unlink(path) }
      close(fd)
      throw error
    }
  }

  /// Removes a socket file left by a server that died; refuses if one is listening, or if the
  /// file is not a socket.
  private func removeStaleSocket() throws {
    var info = stat()
    guard lstat(path, &info) == 0 else {
      guard errno == ENOENT else { throw ControlHTTPError("stat", path, .current) }
      return
    }
    guard info.st_mode & S_IFMT == S_IFSOCK else { throw ControlHTTPError.notASocket(path: path) }
    let probe = try step("create a socket for") { try UnixSocket.make() }
    defer { close(probe) }
    do {
      try UnixSocket.connect(probe, to: path)
    } catch let error as SystemCallError where error.code == ECONNREFUSED {
      try step("remove stale socket") { try check(unlink(path)) }
      return
    } catch let error as SystemCallError {
      throw ControlHTTPError("connect to", path, error)
    }
    throw ControlHTTPError.addressInUse(path: path)
  }

  /// Accepts connections until ``stop()`` shuts the listener down.
  private static func acceptLoop(
    listener: Int32, connections: ConnectionRegistry,
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
          Connection(fd: fd, handler: handler).serve()
          connections.unregister(id)
          close(fd)
        }
      } catch {
        connections.unregister(id)
        close(fd)
      }
    }
  }

  /// Runs `body`, turning a failed system call into a ``ControlHTTPError`` about this socket.
  private func step<T>(_ operation: String, _ body: () throws -> T) throws -> T {
    do {
      return try body()
    } catch let error as SystemCallError {
      throw ControlHTTPError(operation, path, error)
    }
  }

  private func check(_ result: Int32) throws {
    guard result == 0 else { throw SystemCallError.current }
  }

  private static func makeDirectory(_ directory: String) throws {
    guard !directory.isEmpty, access(directory, F_OK) != 0 else { return }
    try makeDirectory(parent(of: directory))
    if mkdir(directory, 0o755) == 0 {
      chmod(directory, 0o755)
    } else if errno != EEXIST {
      throw SystemCallError.current
    }
  }

  private static func parent(of path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return "" }
    return slash == path.startIndex ? "/" : String(path[..<slash])
  }

  private static func fileIdentity(_ path: String) -> (UInt, UInt)? {
    var info = stat()
    return lstat(path, &info) == 0 ? (info.st_dev, info.st_ino) : nil
  }

  private static func groupID(named name: String) -> gid_t? {
    var size = 16 * 1024
    while size <= 1 << 20 {
      var entry = group()
      var result: UnsafeMutablePointer<group>?
      var buffer = [CChar](repeating: 0, count: size)
      let code = getgrnam_r(name, &entry, &buffer, buffer.count, &result)
      if code == ERANGE {
        size *= 2
        continue
      }
      return code == 0 && result != nil ? entry.gr_gid : nil
    }
    return nil
  }
}
