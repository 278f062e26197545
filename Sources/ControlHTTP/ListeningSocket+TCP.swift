import Glibc

extension ListeningSocket {
  /// A close-on-exec TCP socket with `SO_REUSEADDR`, bound to the IPv4 or IPv6 literal `host`
  /// and `port`, and listening; `name` is the address as errors show it.
  static func tcp(host: String, port: UInt16, name: String) throws -> ListeningSocket {
    var address = sockaddr_storage()
    guard let length = socketAddress(host, port, into: &address) else {
      throw ControlHTTPError.badAddress(address: name, reason: "not an IPv4 or IPv6 address")
    }
    let type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
    let fd = socket(Int32(address.ss_family), type, 0)
    guard fd >= 0 else { throw ControlHTTPError("create a socket for", name, .current) }
    do {
      var one: Int32 = 1
      let size = socklen_t(MemoryLayout<Int32>.size)
      try step("set SO_REUSEADDR for", name) {
        try check(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, size))
      }
      try step("listen on", name) {
        try withSocketAddress(&address) { try check(bind(fd, $0, length)) }
        try check(Glibc.listen(fd, 64))
      }
      let bound = try step("read the port of", name) { try boundPort(fd) }
      return ListeningSocket(fd: fd, port: bound)
    } catch {
      Glibc.close(fd)
      throw error
    }
  }

  /// Fills `storage` with `host`:`port` and returns its length, or nil if `host` is no literal.
  static func socketAddress(
    _ host: String, _ port: UInt16, into storage: inout sockaddr_storage
  ) -> socklen_t? {
    withUnsafeMutableBytes(of: &storage) { raw in
      var v4 = sockaddr_in()
      if inet_pton(AF_INET, host, &v4.sin_addr) == 1 {
        v4.sin_family = sa_family_t(AF_INET)
        v4.sin_port = port.bigEndian
        raw.storeBytes(of: v4, as: sockaddr_in.self)
        return socklen_t(MemoryLayout<sockaddr_in>.size)
      }
      var v6 = sockaddr_in6()
      if inet_pton(AF_INET6, host, &v6.sin6_addr) == 1 {
        v6.sin6_family = sa_family_t(AF_INET6)
        v6.sin6_port = port.bigEndian
        raw.storeBytes(of: v6, as: sockaddr_in6.self)
        return socklen_t(MemoryLayout<sockaddr_in6>.size)
      }
      return nil
    }
  }

  /// The local port of the bound socket `fd`.
  private static func boundPort(_ fd: Int32) throws -> UInt16 {
    var address = sockaddr_storage()
    var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
    try withSocketAddress(&address) { try check(getsockname(fd, $0, &length)) }
    let family = Int32(address.ss_family)
    return withUnsafeBytes(of: address) { raw in
      family == AF_INET6
        ? UInt16(bigEndian: raw.load(as: sockaddr_in6.self).sin6_port)
        : UInt16(bigEndian: raw.load(as: sockaddr_in.self).sin_port)
    }
  }

  static func withSocketAddress<T>(
    _ storage: inout sockaddr_storage, _ body: (UnsafeMutablePointer<sockaddr>) throws -> T
  ) rethrows -> T {
    try withUnsafeMutablePointer(to: &storage) { pointer in
      try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1, body)
    }
  }
}
