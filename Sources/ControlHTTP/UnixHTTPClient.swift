import Glibc

/// A client for the control socket: one connection per call, `Connection: close`.
public struct UnixHTTPClient: Sendable {
  private static let maxBodyBytes = 64 * 1024 * 1024
  private static let maxLineBytes = 16 * 1024 * 1024

  /// The server's socket file.
  public let socketPath: String
  /// Longest ``request(method:path:body:)`` waits on a stalled server.
  public var timeoutSeconds: Int

  /// A client of the server at `socketPath`.
  public init(socketPath: String, timeoutSeconds: Int = 30) {
    self.socketPath = socketPath
    self.timeoutSeconds = timeoutSeconds
  }

  /// Sends a request (a `body` of `contentType`) and returns the status and whole body.
  public func request(
    method: String, path: String, body: [UInt8]? = nil, contentType: String = "application/json"
  ) throws -> (status: Int, body: [UInt8]) {
    try request(
      method: method, path: path,
      body: body.map { RequestBody(contentType: contentType, pieces: [.bytes($0)]) })
  }

  /// Sends a request whose body may hold whole files, and returns the status and whole body.
  public func request(method: String, path: String, body: RequestBody?) throws -> (
    status: Int, body: [UInt8]
  ) {
    try exchange(method: method, path: path, body: body, timeout: timeoutSeconds) { response in
      (response.status, try Self.readBody(&response))
    }
  }

  /// GETs `path` and hands each line of the body (without its newline) to `onLine` as it
  /// arrives, until the body ends or `onLine` returns false. A non-2xx answer throws
  /// ``ControlHTTPError/unexpectedStatus(status:body:)``.
  public func streamLines(path: String, onLine: (String) -> Bool) throws {
    try exchange(method: "GET", path: path, body: nil, timeout: nil) { response in
      guard (200..<300).contains(response.status) else {
        throw ControlHTTPError.unexpectedStatus(
          status: response.status, body: try Self.readBody(&response))
      }
      var pending: [UInt8] = []
      while let piece = try response.nextPiece() {
        pending += piece
        var lineStart = 0
        while let newline = pending[lineStart...].firstIndex(of: UInt8(ascii: "\n")) {
          var line = pending[lineStart..<newline]
          if line.last == UInt8(ascii: "\r") { line.removeLast() }
          lineStart = newline + 1
          guard onLine(String(decoding: line, as: UTF8.self)) else { return }
        }
        pending.removeFirst(lineStart)
        guard pending.count <= Self.maxLineBytes else {
          throw ResponseReader.Malformed(reason: "line longer than \(Self.maxLineBytes) bytes")
        }
      }
      if !pending.isEmpty { _ = onLine(String(decoding: pending, as: UTF8.self)) }
    }
  }

  /// Connects, sends the request, reads the response head and runs `read` on the response.
  private func exchange<T>(
    method: String, path: String, body: RequestBody?, timeout: Int?,
    read: (inout ResponseReader) throws -> T
  ) throws -> T {
    let fd = try connect(timeout: timeout)
    defer { close(fd) }
    var head =
      "\(method) \(path) HTTP/1.1\r\nHost: localhost\r\nUser-Agent: vigil\r\nAccept: */*\r\n"
    if let body {
      head += "Content-Type: \(body.contentType)\r\nContent-Length: \(body.count)\r\n"
    }
    head += "Connection: close\r\n\r\n"
    // A server may answer early (e.g. 413) and close while the body is still going out:
    // then the answer is read, and the write error reported only if there is none.
    var sendError: SystemCallError?
    do {
      try UnixSocket.send(fd, Array(head.utf8))
      for piece in body?.pieces ?? [] {
        switch piece {
        case .bytes(let bytes): try UnixSocket.send(fd, bytes)
        case .file(let file, let count): try UnixSocket.sendFile(fd, file, count: count)
        }
      }
    } catch let error as SystemCallError where error.code == EPIPE || error.code == ECONNRESET {
      sendError = error
    } catch let error as SystemCallError {
      throw ControlHTTPError("write to", socketPath, error)
    }
    do {
      var response = try ResponseReader(ByteReader(socket: fd))
      return try read(&response)
    } catch let error as SystemCallError {
      if let sendError { throw ControlHTTPError("write to", socketPath, sendError) }
      throw ControlHTTPError("read from", socketPath, error)
    } catch ByteReader.Failure.endOfStream {
      if let sendError { throw ControlHTTPError("write to", socketPath, sendError) }
      throw ControlHTTPError.malformedResponse(
        path: socketPath, reason: "connection closed mid-response")
    } catch ByteReader.Failure.lineTooLong {
      throw ControlHTTPError.malformedResponse(path: socketPath, reason: "header line too long")
    } catch let error as ResponseReader.Malformed {
      throw ControlHTTPError.malformedResponse(path: socketPath, reason: error.reason)
    }
  }

  /// A socket connected to ``socketPath``, owned by the caller.
  private func connect(timeout: Int?) throws -> Int32 {
    var fd: Int32 = -1
    do {
      fd = try UnixSocket.make()
      try UnixSocket.connect(fd, to: socketPath)
    } catch let error as SystemCallError {
      if fd >= 0 { close(fd) }
      throw ControlHTTPError("connect to", socketPath, error)
    }
    if let timeout {
      UnixSocket.setTimeout(fd, SO_RCVTIMEO, seconds: timeout)
      UnixSocket.setTimeout(fd, SO_SNDTIMEO, seconds: timeout)
    }
    return fd
  }

  private static func readBody(_ response: inout ResponseReader) throws -> [UInt8] {
    var body: [UInt8] = []
    while let piece = try response.nextPiece() {
      body += piece
      guard body.count <= maxBodyBytes else {
        throw ResponseReader.Malformed(reason: "body larger than \(maxBodyBytes) bytes")
      }
    }
    return body
  }
}

/// A request body: bytes and whole files, sent in order. Files go by `sendfile`, never read into
/// this process.
public struct RequestBody {
  public enum Piece {
    case bytes([UInt8])
    /// The first `count` bytes of an open file the caller owns (and keeps open until sent).
    case file(descriptor: Int32, count: Int)
  }

  public var contentType: String
  public var pieces: [Piece]

  public init(contentType: String, pieces: [Piece]) {
    self.contentType = contentType
    self.pieces = pieces
  }

  /// The body's length in bytes.
  public var count: Int {
    pieces.reduce(0) { total, piece in
      switch piece {
      case .bytes(let bytes): total + bytes.count
      case .file(_, let count): total + count
      }
    }
  }
}
