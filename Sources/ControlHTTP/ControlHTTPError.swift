import Glibc

/// Why a control-socket server or client call failed, worded for the person at the terminal.
public enum ControlHTTPError: Error, Equatable, CustomStringConvertible {
  /// A system call on the socket at `path` (a file, or a TCP `host:port`) failed with `errno`;
  /// `operation` reads "cannot <operation> <path>".
  case system(operation: String, path: String, errno: Int32)
  /// `address` is not a TCP address the server can listen on.
  case badAddress(address: String, reason: String)
  /// Another server is already listening on `path`.
  case addressInUse(path: String)
  /// `path` exists and is not a socket, so it was left alone.
  case notASocket(path: String)
  /// The server at `path` did not answer with well-formed HTTP/1.1.
  case malformedResponse(path: String, reason: String)
  /// A streamed request was answered with a non-2xx status; `body` is the server's answer.
  case unexpectedStatus(status: Int, body: [UInt8])

  /// The message for the person at the terminal.
  public var description: String {
    switch self {
    case .system(let operation, let path, let code):
      return "cannot \(operation) \(path): \(SystemCallError(code: code).message)"
        + (operation == "connect to" ? Self.connectHint(code) : "")
    case .badAddress(let address, let reason):
      return "cannot listen on \(address): \(reason)"
    case .addressInUse(let path):
      return "cannot listen on \(path): another server is already listening there"
    case .notASocket(let path):
      return "cannot listen on \(path): it exists and is not a socket; not removing it"
    case .malformedResponse(let path, let reason):
      return "bad response from \(path): \(reason)"
    case .unexpectedStatus(let status, let body):
      return "HTTP \(status): \(String(decoding: body, as: UTF8.self))"
    }
  }

  private static func connectHint(_ code: Int32) -> String {
    switch code {
    case ENOENT, ECONNREFUSED: " — is vigild running?"
    case EACCES, EPERM: " — run as root or as a member of the socket's group"
    default: ""
    }
  }

  /// A failed system call on the socket at `path`.
  init(_ operation: String, _ path: String, _ error: SystemCallError) {
    self = .system(operation: operation, path: path, errno: error.code)
  }
}
