import Foundation

/// A minimal HTTP/1.1 client for vigild's control socket: one request per connection.
struct ControlClient: Sendable {
  let socketPath: String

  struct Response {
    var status: Int
    var body: [UInt8]
    var text: String { String(decoding: body, as: UTF8.self) }
  }

  /// Sends one request and reads the whole response.
  func request(_ method: String, _ target: String, json: String? = nil, timeout: Int = 5) throws
    -> Response
  {
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw BenchError.system("socket") }
    defer { close(fd) }
    var limit = timeval(tv_sec: timeout, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
    try connect(fd)

    let payload = Array((json ?? "").utf8)
    var head = "\(method) \(target) HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
    if json != nil {
      head += "Content-Type: application/json\r\nContent-Length: \(payload.count)\r\n"
    }
    try send(fd, Array((head + "\r\n").utf8) + payload)

    var response: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65_536)
    while true {
      let count = read(fd, &buffer, buffer.count)
      if count == 0 { break }
      if count < 0 {
        if errno == EINTR { continue }
        throw BenchError.system("reading \(method) \(target) from \(socketPath)")
      }
      response += buffer[0..<count]
    }
    return try Self.parse(response, request: "\(method) \(target)")
  }

  private func connect(_ fd: Int32) throws {
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    let path = Array(socketPath.utf8)
    guard path.count < MemoryLayout.size(ofValue: address.sun_path) else {
      throw BenchError("socket path too long: \(socketPath)")
    }
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
      raw.copyBytes(from: path)
      raw[path.count] = 0
    }
    let result = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
      }
    }
    guard result == 0 else { throw BenchError.system("connecting to \(socketPath)") }
  }

  private func send(_ fd: Int32, _ bytes: [UInt8]) throws {
    var sent = 0
    while sent < bytes.count {
      let count = bytes[sent...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
      if count < 0 {
        if errno == EINTR { continue }
        throw BenchError.system("writing to \(socketPath)")
      }
      sent += count
    }
  }

  /// Splits status line, headers and body; undoes chunked transfer coding.
  private static func parse(_ bytes: [UInt8], request: String) throws -> Response {
    let separator: [UInt8] = [13, 10, 13, 10]
    guard let end = bytes.indices.first(where: { bytes[$0...].starts(with: separator) }) else {
      throw BenchError("\(request): incomplete response (\(bytes.count) bytes)")
    }
    let head = String(decoding: bytes[..<end], as: UTF8.self)
    let statusLine = head.split(separator: "\r\n").first ?? ""
    let parts = statusLine.split(separator: " ")
    guard parts.count >= 2, let status = Int(parts[1]) else {
      throw BenchError("\(request): bad status line \"\(statusLine)\"")
    }
    let body = Array(bytes[(end + 4)...])
    let chunked = head.lowercased().contains("transfer-encoding: chunked")
    return Response(status: status, body: chunked ? try dechunk(body, request: request) : body)
  }

  private static func dechunk(_ bytes: [UInt8], request: String) throws -> [UInt8] {
    var body: [UInt8] = []
    var index = 0
    while index < bytes.count {
      guard
        let lineEnd = bytes[index...].indices.first(where: { bytes[$0...].starts(with: [13, 10]) }),
        let size = Int(String(decoding: bytes[index..<lineEnd], as: UTF8.self), radix: 16)
      else { throw BenchError("\(request): bad chunked body") }
      if size == 0 { break }
      let start = lineEnd + 2
      guard start + size <= bytes.count else { throw BenchError("\(request): truncated chunk") }
      body += bytes[start..<(start + size)]
      index = start + size + 2
    }
    return body
  }
}
