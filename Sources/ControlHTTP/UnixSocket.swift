import Glibc

/// Thin, errno-checked wrappers over AF_UNIX stream socket calls; `send`, `receive` and
/// `setTimeout` serve TCP sockets too.
enum UnixSocket {
  /// A new close-on-exec AF_UNIX stream socket; the caller owns it.
  static func make() throws -> Int32 {
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { throw SystemCallError.current }
    return fd
  }

  static func connect(_ fd: Int32, to path: String) throws {
    try withAddress(path) { address, length in
      while Glibc.connect(fd, address, length) != 0 {
        guard errno == EINTR else { throw SystemCallError.current }
      }
    }
  }

  static func bind(_ fd: Int32, to path: String) throws {
    try withAddress(path) { address, length in
      guard Glibc.bind(fd, address, length) == 0 else { throw SystemCallError.current }
    }
  }

  /// Sends all of `bytes`, retrying partial writes; fails with EPIPE once the peer is gone.
  static func send(_ fd: Int32, _ bytes: [UInt8]) throws {
    try bytes.withUnsafeBytes { buffer in
      var sent = 0
      while sent < buffer.count {
        let count = Glibc.send(
          fd, buffer.baseAddress! + sent, buffer.count - sent, Int32(MSG_NOSIGNAL))
        if count < 0 {
          guard errno == EINTR else { throw SystemCallError.current }
        } else {
          sent += count
        }
      }
    }
  }

  /// Sends `count` bytes of the open file `file` from its start with `sendfile`, without copying
  /// them through this process. SIGPIPE is held back meanwhile: a vanished peer is EPIPE, as for
  /// ``send(_:_:)``. A file that ends early is EIO.
  static func sendFile(_ fd: Int32, _ file: Int32, count: Int) throws {
    var pipeSignal = sigset_t()
    var previous = sigset_t()
    sigemptyset(&pipeSignal)
    sigaddset(&pipeSignal, SIGPIPE)
    pthread_sigmask(SIG_BLOCK, &pipeSignal, &previous)
    defer {
      // A SIGPIPE raised here (none was pending before) is consumed before unblocking.
      if sigismember(&previous, SIGPIPE) == 0 {
        var none = timespec()
        while sigtimedwait(&pipeSignal, nil, &none) == SIGPIPE {}
      }
      pthread_sigmask(SIG_SETMASK, &previous, nil)
    }
    var offset = off_t(0)
    while Int(offset) < count {
      let sent = sendfile(fd, file, &offset, count - Int(offset))
      if sent < 0 {
        guard errno == EINTR else { throw SystemCallError.current }
      } else if sent == 0 {
        throw SystemCallError(code: EIO)
      }
    }
  }

  /// Receives into `buffer`, returning the count read; 0 means the peer closed.
  static func receive(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
    while true {
      let count = recv(fd, buffer.baseAddress, buffer.count, 0)
      if count >= 0 { return count }
      guard errno == EINTR else { throw SystemCallError.current }
    }
  }

  /// Sets the send or receive timeout (`SO_SNDTIMEO` / `SO_RCVTIMEO`).
  static func setTimeout(_ fd: Int32, _ option: Int32, seconds: Int) {
    var value = timeval(tv_sec: seconds, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, option, &value, socklen_t(MemoryLayout<timeval>.size))
  }

  private static func withAddress(
    _ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) throws -> Void
  ) throws {
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    let bytes = Array(path.utf8)
    guard !bytes.isEmpty else { throw SystemCallError(code: ENOENT) }
    guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
      throw SystemCallError(code: ENAMETOOLONG)
    }
    withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
    try withUnsafePointer(to: &address) { pointer in
      try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        try body($0, socklen_t(MemoryLayout<sockaddr_un>.size))
      }
    }
  }
}
