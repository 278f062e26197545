/// The control socket: where it lives and who may use it.
public struct SocketSettings: Sendable, Equatable, Codable {
  /// Path of the Unix control socket.
  public var path: String
  /// Permission bits of the socket file (YAML: octal text such as `"0660"`).
  public var mode: UInt32
  /// Group owning the socket, whose members may use the `vigil` CLI; nil keeps the daemon's group.
  public var group: String?

  /// Creates socket settings; the defaults are those of a file that leaves `socket` out.
  public init(
    path: String = "/run/vigil/vigil.sock", mode: UInt32 = 0o660, group: String? = "vigil"
  ) {
    self.path = path
    self.mode = mode
    self.group = group
  }

  init(_ node: ConfigNode) throws(ConfigError) {
    self.init()
    let fields = try node.mapping(keys: ["path", "mode", "group"])
    if let path = fields["path"] { self.path = try path.string() }
    if let mode = fields["mode"] {
      self.mode = try mode.parsed(
        Quantities.fileMode, else: "is not an octal file mode (use \"0660\")")
    }
    if let group = fields["group"] { self.group = group.isNull ? nil : try group.string() }
  }

  func validate(source: String) throws(ConfigError) {
    // sun_path holds 108 bytes including the terminating NUL.
    guard path.hasPrefix("/"), path.utf8.count < 108 else {
      throw ConfigError(
        source: source, field: "socket.path", value: path,
        reason: "must be an absolute path under 108 bytes")
    }
    if group == "" {
      throw ConfigError(
        source: source, field: "socket.group", value: "", reason: "must be a group name or null")
    }
  }
}
