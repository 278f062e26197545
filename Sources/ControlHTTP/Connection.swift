import Glibc

/// Serves one request on an accepted connection, on the connection's own thread.
struct Connection {
  /// Longest a client may stall a read or a write before the connection is dropped.
  static let ioTimeoutSeconds = 30

  /// The accepted socket; owned by the connection's thread, which closes it after ``serve()``.
  let fd: Int32
  /// The peer when the socket cannot tell (TCP: ``PeerCredentials/network``); nil asks the
  /// kernel (`SO_PEERCRED`).
  let knownPeer: PeerCredentials?
  let handler: @Sendable (HTTPRequest) -> HTTPResponse
  /// Larger request bodies are refused with 413.
  let maxBodyBytes: Int

  /// Reads one request, answers it and returns; errors on a vanished client are dropped.
  func serve() {
    UnixSocket.setTimeout(fd, SO_RCVTIMEO, seconds: Self.ioTimeoutSeconds)
    UnixSocket.setTimeout(fd, SO_SNDTIMEO, seconds: Self.ioTimeoutSeconds)
    var reader = ByteReader(socket: fd)
    do {
      guard let head = try RequestParser.readHead(from: &reader) else { return }
      let length = try RequestParser.bodyLength(of: head, maxBodyBytes: maxBodyBytes)
      if length > 0, head.headers["expect"]?.lowercased() == "100-continue" {
        try UnixSocket.send(fd, ResponseHead.bytes(status: 100, headers: []))
      }
      let body = try reader.read(count: length)
      let peer: PeerCredentials
      do {
        peer = try knownPeer ?? PeerCredentials.of(socket: fd)
      } catch {
        throw RequestParser.Rejection(status: 500, message: "cannot read peer credentials")
      }
      let request = HTTPRequest(
        method: head.method, path: head.path, query: head.query, headers: head.headers, body: body,
        peer: peer)
      try send(handler(request), chunked: head.version == "HTTP/1.1")
    } catch let rejection as RequestParser.Rejection {
      try? send(
        .full(
          status: rejection.status, contentType: "application/json",
          body: ResponseHead.errorBody(rejection.message)),
        chunked: false)
    } catch {
      return
    }
  }

  private func send(_ response: HTTPResponse, chunked: Bool) throws {
    switch response {
    case .full(let status, let contentType, let body):
      var headers: [(name: String, value: String)] = []
      if !contentType.isEmpty { headers.append(("Content-Type", contentType)) }
      if status != 204 && status != 304 { headers.append(("Content-Length", "\(body.count)")) }
      headers.append(("Connection", "close"))
      try UnixSocket.send(fd, ResponseHead.bytes(status: status, headers: headers) + body)
    case .stream(let status, let contentType, let producer):
      var headers: [(name: String, value: String)] = [
        ("Content-Type", contentType), ("Cache-Control", "no-cache"),
      ]
      if chunked { headers.append(("Transfer-Encoding", "chunked")) }
      headers.append(("Connection", "close"))
      try UnixSocket.send(fd, ResponseHead.bytes(status: status, headers: headers))
      let writer = ChunkWriter(socket: fd, chunked: chunked)
      producer(writer)
      writer.finish()
    }
  }
}
