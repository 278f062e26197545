/// Where Prometheus metrics are served besides `/metrics` on the control socket.
public struct MetricsSettings: Sendable, Equatable, Codable {
  /// TCP `host:port` to serve `/metrics` on, such as `127.0.0.1:9466` or `[::1]:9466`; nil serves
  /// them only on the control socket.
  public var listen: String?

  /// Creates metrics settings; the defaults are those of a file that leaves `metrics` out.
  public init(listen: String? = nil) {
    self.listen = listen
  }

  init(_ node: ConfigNode) throws(ConfigError) {
    self.init()
    let fields = try node.mapping(keys: ["listen"])
    if let listen = fields["listen"], !listen.isNull { self.listen = try listen.string() }
  }

  func validate(source: String) throws(ConfigError) {
    guard let listen else { return }
    guard let colon = listen.lastIndex(of: ":"),
      let port = UInt16(listen[listen.index(after: colon)...]), port > 0
    else {
      throw ConfigError(
        source: source, field: "metrics.listen", value: listen,
        reason: "is not host:port (use 127.0.0.1:9466)")
    }
    let host = listen[..<colon]
    let bracketed = host.hasPrefix("[") && host.hasSuffix("]") && host.count > 2
    guard !host.isEmpty, bracketed || !host.contains(":") else {
      throw ConfigError(
        source: source, field: "metrics.listen", value: listen,
        reason: "needs a host before the port, with IPv6 addresses in brackets (use [::1]:9466)")
    }
  }
}
