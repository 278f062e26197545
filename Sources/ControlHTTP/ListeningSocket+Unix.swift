import Glibc

extension ListeningSocket {
  /// Creates the parent directory (0755) if needed, replaces a stale socket file that nothing
  /// listens on, binds, sets mode and group (if `groupName` exists) and listens.
  static func unix(path: String, mode: mode_t, groupName: String?) throws -> ListeningSocket {
    try step("create the directory of", path) { try makeDirectory(parent(of: path)) }
    try removeStaleSocket(path)
    let fd = try step("create a socket for", path) { try UnixSocket.make() }
    var bound = false
    do {
      try step("bind", path) { try UnixSocket.bind(fd, to: path) }
      bound = true
      try step("chmod", path) { try check(chmod(path, mode)) }
      if let groupName, let group = groupID(named: groupName) {
        try step("chown", path) { try check(chown(path, uid_t.max, group)) }
      }
      var info = stat()
      try step("stat", path) { try check(stat(path, &info)) }
      try step("listen on", path) { try check(Glibc.listen(fd, 64)) }
      let file = SocketFile(path: path, device: info.st_dev, inode: info.st_ino, group: info.st_gid)
      return ListeningSocket(fd: fd, file: file)
    } catch {
      if bound { unlink(path) }
      Glibc.close(fd)
      throw error
    }
  }

  /// Removes a socket file left by a server that died; refuses if one is listening, or if the
  /// file is not a socket.
  private static func removeStaleSocket(_ path: String) throws {
    var info = stat()
    guard lstat(path, &info) == 0 else {
      guard errno == ENOENT else { throw ControlHTTPError("stat", path, .current) }
      return
    }
    guard info.st_mode & S_IFMT == S_IFSOCK else { throw ControlHTTPError.notASocket(path: path) }
    let probe = try step("create a socket for", path) { try UnixSocket.make() }
    defer { Glibc.close(probe) }
    do {
      try UnixSocket.connect(probe, to: path)
    } catch let error as SystemCallError where error.code == ECONNREFUSED {
      try step("remove stale socket", path) { try check(unlink(path)) }
      return
    } catch let error as SystemCallError {
      throw ControlHTTPError("connect to", path, error)
    }
    throw ControlHTTPError.addressInUse(path: path)
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
