import Glibc

/// Where an ``HTTPServer`` listens.
public enum ListenAddress: Sendable, Equatable, CustomStringConvertible {
  /// A unix stream socket file at `path` with permissions `mode`, its group set to `groupName`
  /// if that group exists. Peers are known by their `SO_PEERCRED` credentials.
  case unix(path: String, mode: mode_t = 0o660, groupName: String? = "vigil")
  /// A TCP socket on an IPv4 or IPv6 literal `host` (no brackets), e.g. `127.0.0.1` or `::1`;
  /// port 0 lets the kernel pick. Peers are ``PeerCredentials/network``, which may not mutate.
  case tcp(host: String, port: UInt16)

  /// A TCP address from `host:port`, with an IPv6 host in brackets: `127.0.0.1:9466`,
  /// `[::1]:9466`. The host is checked when the server starts.
  public init(hostPort text: String) throws(ControlHTTPError) {
    guard let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...])
    else {
      throw .badAddress(address: text, reason: "not host:port (use 127.0.0.1:9466 or [::1]:9466)")
    }
    var host = text[..<colon]
    if host.count > 2, host.hasPrefix("["), host.hasSuffix("]") {
      host = host.dropFirst().dropLast()
    } else if host.contains(":") {
      throw .badAddress(address: text, reason: "an IPv6 host needs brackets (use [::1]:9466)")
    }
    self = .tcp(host: String(host), port: port)
  }

  /// The socket path, or `host:port` with an IPv6 host in brackets.
  public var description: String {
    switch self {
    case .unix(let path, _, _): path
    case .tcp(let host, let port): host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
  }
}
