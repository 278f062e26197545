import Glibc

/// A bound, listening socket; its ``HTTPServer`` owns `fd` and releases it with ``close()``.
struct ListeningSocket {
  /// The socket file of a unix listener, removed by ``close()`` if it is still this socket's.
  struct SocketFile {
    var path: String
    var device: UInt
    var inode: UInt
    /// The file's group, whose members may make mutating calls.
    var group: UInt32
  }

  var fd: Int32
  /// The socket file, for a unix socket.
  var file: SocketFile?
  /// The bound port (the kernel's pick when 0 was asked for), for a TCP socket.
  var port: UInt16?

  /// Binds and listens on `address`, cleaning up on failure.
  static func listen(on address: ListenAddress) throws -> ListeningSocket {
    switch address {
    case .unix(let path, let mode, let groupName):
      try unix(path: path, mode: mode, groupName: groupName)
    case .tcp(let host, let port):
      try tcp(host: host, port: port, name: address.description)
    }
  }

  /// Removes the socket file if it is still this socket's, then closes the socket.
  func close() {
    if let file, let identity = Self.fileIdentity(file.path),
      identity == (file.device, file.inode)
    {
      unlink(file.path)
    }
    Glibc.close(fd)
  }

  static func fileIdentity(_ path: String) -> (UInt, UInt)? {
    var info = stat()
    return lstat(path, &info) == 0 ? (info.st_dev, info.st_ino) : nil
  }

  /// Runs `body`, turning a failed system call into a ``ControlHTTPError`` about `name`, the
  /// socket's path or address: "cannot <operation> <name>: <reason>".
  static func step<T>(_ operation: String, _ name: String, _ body: () throws -> T) throws -> T {
    do {
      return try body()
    } catch let error as SystemCallError {
      throw ControlHTTPError(operation, name, error)
    }
  }

  static func check(_ result: Int32) throws {
    guard result == 0 else { throw SystemCallError.current }
  }
}
