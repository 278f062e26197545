import BPFCore
import Foundation
import XCTest

/// Two network namespaces made for one test, joined by a veth pair with both ends inside them:
/// `client` (10.250.N.1, fd00:250:N::1) and `server` (10.250.N.2, fd00:250:N::2). Nothing is
/// added to the root namespace. `delete()` removes both namespaces (and so the veth).
final class TestNetwork: @unchecked Sendable {
  let client: String
  let server: String
  /// The server end's interface name (inside `server`).
  let serverInterface = "vs0"
  let clientAddress: String
  let serverAddress: String
  let clientAddress6: String
  let serverAddress6: String

  private static let counter = LockedCounter()

  init() throws {
    let n = Self.counter.next()
    let tag = "vigil-\(getpid() % 100_000)-\(n)"
    client = "\(tag)-c"
    server = "\(tag)-s"
    clientAddress = "10.250.\(n).1"
    serverAddress = "10.250.\(n).2"
    clientAddress6 = "fd00:250:\(n)::1"
    serverAddress6 = "fd00:250:\(n)::2"
    do {
      try ip("netns", "add", client)
      try ip("netns", "add", server)
      try ip(
        "link", "add", "vc0", "netns", client, "type", "veth", "peer", "name", serverInterface,
        "netns", server)
      for (namespace, device, v4, v6) in [
        (client, "vc0", clientAddress, clientAddress6),
        (server, serverInterface, serverAddress, serverAddress6),
      ] {
        try ip("-n", namespace, "addr", "add", "\(v4)/24", "dev", device)
        try ip("-n", namespace, "addr", "add", "\(v6)/64", "dev", device, "nodad")
        try ip("-n", namespace, "link", "set", device, "up")
        try ip("-n", namespace, "link", "set", "lo", "up")
      }
    } catch {
      delete()
      throw error
    }
  }

  /// Deletes both namespaces (the veth goes with them).
  func delete() {
    for namespace in [client, server] {
      _ = try? runCommand("/usr/sbin/ip", ["netns", "del", namespace], timeout: 10)
    }
  }

  private func ip(_ arguments: String...) throws {
    let (status, output) = try runCommand("/usr/sbin/ip", arguments, timeout: 10)
    guard status == 0 else {
      throw DaemonFailure("ip \(arguments.joined(separator: " ")) failed (\(status)): \(output)")
    }
  }
}

private final class LockedCounter: @unchecked Sendable {
  private let lock = NSLock()
  private var value = 0
  func next() -> Int {
    lock.withLock {
      value += 1
      return value
    }
  }
}

/// Sockets created inside a test namespace; a socket stays in the namespace it was made in, so
/// only its creation runs there.
enum NetnsSocket {
  /// A new socket of `family`/`type` in namespace `namespace`, with a receive timeout.
  static func make(
    in namespace: String, family: Int32, type: Int32, protocol number: Int32 = 0,
    timeout: TimeInterval = 1
  ) throws -> Int32 {
    let fd = try NetworkNamespace.run(in: namespace) {
      let fd = socket(family, type | Int32(SOCK_CLOEXEC.rawValue), number)
      guard fd >= 0 else { throw DaemonFailure("socket: \(String(cString: strerror(errno)))") }
      return fd
    }
    var time = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - Double(Int(timeout))) * 1e6))
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &time, socklen_t(MemoryLayout<timeval>.size))
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &time, socklen_t(MemoryLayout<timeval>.size))
    return fd
  }

  /// `address` (v4 or v6) and `port` as a sockaddr, passed to `body`.
  static func withAddress<T>(
    _ address: String, _ port: UInt16, _ body: (UnsafePointer<sockaddr>, socklen_t) -> T
  ) -> T {
    if address.contains(":") {
      var storage = sockaddr_in6()
      storage.sin6_family = sa_family_t(AF_INET6)
      storage.sin6_port = port.bigEndian
      inet_pton(AF_INET6, address, &storage.sin6_addr)
      return withUnsafePointer(to: &storage) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
          body($0, socklen_t(MemoryLayout<sockaddr_in6>.size))
        }
      }
    }
    var storage = sockaddr_in()
    storage.sin_family = sa_family_t(AF_INET)
    storage.sin_port = port.bigEndian
    inet_pton(AF_INET, address, &storage.sin_addr)
    return withUnsafePointer(to: &storage) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        body($0, socklen_t(MemoryLayout<sockaddr_in>.size))
      }
    }
  }

  static func family(of address: String) -> Int32 { address.contains(":") ? AF_INET6 : AF_INET }
}

/// Servers in the test's server namespace: a TCP listener that accepts and answers one byte,
/// and a UDP echo, on the given port (v4 and v6). They run until `stop()`.
final class TestServers: @unchecked Sendable {
  private var sockets: [Int32] = []
  private let lock = NSLock()
  private var running = true
  private var threads = 0
  /// Datagrams the UDP servers received, by port.
  private var received: [UInt16: Int] = [:]

  init(network: TestNetwork, tcpPorts: [UInt16], udpPorts: [UInt16]) throws {
    for (ports, type) in [(tcpPorts, SOCK_STREAM), (udpPorts, SOCK_DGRAM)] {
      for port in ports {
        let fd = try NetnsSocket.make(
          in: network.server, family: AF_INET6, type: Int32(type.rawValue), timeout: 0.2)
        var off: Int32 = 0
        setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &off, 4)
        var on: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, 4)
        var buffer: Int32 = 4 << 20
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer, 4)
        let bound = NetnsSocket.withAddress("::", port) { bind(fd, $0, $1) }
        guard bound == 0 else {
          close(fd)
          throw DaemonFailure("bind port \(port): \(String(cString: strerror(errno)))")
        }
        sockets.append(fd)
        if type == SOCK_STREAM {
          listen(fd, 64)
          start { [self] in serveTCP(fd) }
        } else {
          start { [self] in serveUDP(fd, port: port) }
        }
      }
    }
  }

  private func start(_ body: @escaping @Sendable () -> Void) {
    lock.withLock { threads += 1 }
    Thread.detachNewThread { [self] in
      body()
      lock.withLock { threads -= 1 }
    }
  }

  private var isRunning: Bool { lock.withLock { running } }

  private func serveTCP(_ listener: Int32) {
    while isRunning {
      let connection = accept(listener, nil, nil)
      guard connection >= 0 else { continue }
      var byte: UInt8 = 0
      _ = read(connection, &byte, 1)
      _ = write(connection, &byte, 1)
      close(connection)
    }
  }

  private func serveUDP(_ fd: Int32, port: UInt16) {
    var buffer = [UInt8](repeating: 0, count: 2048)
    var peer = sockaddr_in6()
    while isRunning {
      var length = socklen_t(MemoryLayout<sockaddr_in6>.size)
      let count = withUnsafeMutablePointer(to: &peer) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
          recvfrom(fd, &buffer, buffer.count, 0, $0, &length)
        }
      }
      guard count > 0 else { continue }
      lock.withLock { received[port, default: 0] += 1 }
      if buffer[0] == UInt8(ascii: "e") {  // echo requested
        _ = withUnsafePointer(to: &peer) {
          $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            sendto(fd, buffer, count, 0, $0, length)
          }
        }
      }
    }
  }

  /// Datagrams received on UDP `port` so far.
  func datagrams(on port: UInt16) -> Int { lock.withLock { received[port] ?? 0 } }

  func stop() {
    lock.withLock { running = false }
    let deadline = Date().addingTimeInterval(3)
    while lock.withLock({ threads }) > 0 && Date() < deadline { usleep(10_000) }
    for fd in sockets { close(fd) }
    sockets = []
  }
}

/// Traffic from the test's client namespace.
enum TestTraffic {
  /// True when a TCP connection to `address`:`port` opens and a byte makes the round trip.
  static func tcp(_ network: TestNetwork, _ address: String, _ port: UInt16) throws -> Bool {
    let fd = try NetnsSocket.make(
      in: network.client, family: NetnsSocket.family(of: address), type: Int32(SOCK_STREAM.rawValue)
    )
    defer { close(fd) }
    guard NetnsSocket.withAddress(address, port, { connect(fd, $0, $1) }) == 0 else { return false }
    var byte: UInt8 = 7
    guard write(fd, &byte, 1) == 1 else { return false }
    byte = 0
    return read(fd, &byte, 1) == 1 && byte == 7
  }

  /// True when a UDP datagram to `address`:`port` is echoed back (the reply passes too).
  static func udpEcho(_ network: TestNetwork, _ address: String, _ port: UInt16) throws -> Bool {
    let fd = try NetnsSocket.make(
      in: network.client, family: NetnsSocket.family(of: address), type: Int32(SOCK_DGRAM.rawValue),
      timeout: 0.5)
    defer { close(fd) }
    guard NetnsSocket.withAddress(address, port, { connect(fd, $0, $1) }) == 0 else { return false }
    for _ in 0..<2 {  // one retry: the first datagram may wait for neighbour resolution
      var message: [UInt8] = Array("echo".utf8)
      _ = send(fd, &message, message.count, 0)
      var reply = [UInt8](repeating: 0, count: 16)
      if recv(fd, &reply, reply.count, 0) == 4 { return true }
    }
    return false
  }

  /// True when an ICMP (or ICMPv6) echo request to `address` gets its reply.
  static func ping(_ network: TestNetwork, _ address: String) throws -> Bool {
    let v6 = address.contains(":")
    let fd = try NetnsSocket.make(
      in: network.client, family: v6 ? AF_INET6 : AF_INET, type: Int32(SOCK_RAW.rawValue),
      protocol: v6 ? Int32(IPPROTO_ICMPV6) : Int32(IPPROTO_ICMP), timeout: 0.5)
    defer { close(fd) }
    // type (8 / 128), code, checksum, id, sequence; the kernel checksums ICMPv6 itself.
    var packet: [UInt8] = [v6 ? 128 : 8, 0, 0, 0, 0x12, 0x34, 0, 1]
    if !v6 {
      var sum: UInt32 = 0
      for index in stride(from: 0, to: packet.count, by: 2) {
        sum += UInt32(packet[index]) << 8 | UInt32(packet[index + 1])
      }
      while sum >> 16 != 0 { sum = (sum & 0xffff) + (sum >> 16) }
      let checksum = ~UInt16(sum)
      packet[2] = UInt8(checksum >> 8)
      packet[3] = UInt8(checksum & 0xff)
    }
    for _ in 0..<2 {
      _ = NetnsSocket.withAddress(address, 0) { sendto(fd, packet, packet.count, 0, $0, $1) }
      let deadline = Date().addingTimeInterval(0.5)
      var reply = [UInt8](repeating: 0, count: 256)
      while Date() < deadline {
        let count = recv(fd, &reply, reply.count, 0)
        guard count > 0 else { break }
        // Raw IPv4 sockets see the IP header; ICMPv6 sockets do not.
        let offset = v6 ? 0 : Int(reply[0] & 0x0f) * 4
        if count > offset, reply[offset] == (v6 ? 129 : 0) { return true }
      }
    }
    return false
  }

  /// Sends `count` UDP datagrams (no echo) to `address`:`port` from one socket, `perSecond`
  /// at most; returns how many the kernel accepted.
  static func udpFlow(
    _ network: TestNetwork, _ address: String, _ port: UInt16, count: Int, perSecond: Int
  ) throws -> Int {
    let fd = try NetnsSocket.make(
      in: network.client, family: NetnsSocket.family(of: address), type: Int32(SOCK_DGRAM.rawValue))
    defer { close(fd) }
    guard NetnsSocket.withAddress(address, port, { connect(fd, $0, $1) }) == 0 else { return 0 }
    var sent = 0
    let start = Date()
    var message: [UInt8] = Array("flow".utf8)
    for index in 0..<count {
      if send(fd, &message, message.count, 0) == message.count { sent += 1 }
      if index % 100 == 99 {
        let due = start.addingTimeInterval(Double(index + 1) / Double(perSecond))
        let wait = due.timeIntervalSinceNow
        if wait > 0 { usleep(UInt32(wait * 1e6)) }
      }
    }
    return sent
  }
}
