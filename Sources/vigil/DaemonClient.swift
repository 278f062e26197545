import ControlAPI
import ControlHTTP

/// The API calls the CLI makes, with the daemon's error messages turned into ``CLIError``s.
struct DaemonClient {
  let http: UnixHTTPClient

  /// The raw body of a successful `GET`.
  func getRaw(_ path: String) throws -> [UInt8] {
    try checked(try http.request(method: "GET", path: path))
  }

  /// A successful `GET`, decoded.
  func get<T: Decodable>(_ type: T.Type, _ path: String) throws -> T {
    try decode(type, try getRaw(path))
  }

  /// A successful `POST` of `body` as JSON, its answer decoded.
  func post<T: Decodable>(_ path: String, _ body: some Encodable, answer type: T.Type) throws -> T {
    try decode(
      type, try checked(try http.request(method: "POST", path: path, body: WireJSON.encode(body))))
  }

  /// A successful `POST` of `body`, its answer decoded.
  func post<T: Decodable>(_ path: String, body: RequestBody, answer type: T.Type) throws -> T {
    try decode(type, try checked(try http.request(method: "POST", path: path, body: body)))
  }

  /// A successful `DELETE`.
  func delete(_ path: String) throws {
    _ = try checked(try http.request(method: "DELETE", path: path))
  }

  /// Each line of a successful streamed `GET`, until `onLine` returns false.
  func streamLines(_ path: String, onLine: (String) -> Bool) throws {
    do {
      try http.streamLines(path: path, onLine: onLine)
    } catch ControlHTTPError.unexpectedStatus(let status, let body) {
      throw Self.failure(status: status, body: body)
    }
  }

  private func checked(_ answer: (status: Int, body: [UInt8])) throws -> [UInt8] {
    guard (200..<300).contains(answer.status) else {
      throw Self.failure(status: answer.status, body: answer.body)
    }
    return answer.body
  }

  private func decode<T: Decodable>(_ type: T.Type, _ body: [UInt8]) throws -> T {
    do {
      return try WireJSON.decode(type, from: body)
    } catch {
      throw CLIError("unexpected answer from vigild at \(http.socketPath): \(error)")
    }
  }

  /// The daemon's `error` message, or the status if it sent none.
  private static func failure(status: Int, body: [UInt8]) -> CLIError {
    if let response = try? WireJSON.decode(ErrorResponse.self, from: body) {
      return CLIError(response.error)
    }
    return CLIError("vigild answered HTTP \(status)")
  }
}

/// A failure reported to the user as `Error: <message>` with a non-zero exit status.
struct CLIError: Error, CustomStringConvertible {
  let description: String

  init(_ message: String) {
    description = message
  }
}
