/// A description of processes to watch.
///
/// In YAML each target is a one-key mapping: `- pid: 123`, `- executable: nginx` (or
/// `/usr/sbin/nginx`), `- cgroup: /sys/fs/cgroup/web.slice`. On the command line it is `pid:123`,
/// `executable:nginx` or `cgroup:/sys/fs/cgroup/web.slice`.
public enum TargetSpec: Sendable, Hashable, Codable, LosslessStringConvertible {
  /// The process with this id (its threads included).
  case pid(Int32)
  /// Processes running this executable: an absolute path, or a file name also matched to `comm`.
  case executable(String)
  /// Processes in this cgroup v2 directory or below it, given as a path under the cgroup2 mount.
  case cgroup(String)

  /// The key naming this kind of target in YAML and on the command line.
  public var kind: String {
    switch self {
    case .pid: "pid"
    case .executable: "executable"
    case .cgroup: "cgroup"
    }
  }

  /// The value after the kind, as written.
  public var value: String {
    switch self {
    case .pid(let pid): "\(pid)"
    case .executable(let name): name
    case .cgroup(let path): path
    }
  }

  /// Parses `kind:value`, such as `pid:123`, `executable:nginx` or
  /// `cgroup:/sys/fs/cgroup/web.slice`.
  public init?(_ description: String) {
    guard let colon = description.firstIndex(of: ":") else { return nil }
    let value = String(description[description.index(after: colon)...])
    switch description[..<colon] {
    case "pid":
      guard let pid = Int32(value) else { return nil }
      self = .pid(pid)
    case "executable": self = .executable(value)
    case "cgroup": self = .cgroup(value)
    default: return nil
    }
  }

  /// `kind:value`, the form `init(_:)` parses.
  public var description: String { "\(kind):\(value)" }

  private enum CodingKeys: String, CodingKey, CaseIterable {
    case pid, executable, cgroup
  }

  /// Decodes the one-key object form, such as `{"pid": 123}`.
  public init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    guard container.allKeys.count == 1, let key = container.allKeys.first else {
      throw DecodingError.dataCorrupted(
        .init(
          codingPath: decoder.codingPath,
          debugDescription: "a target has exactly one of pid, executable, cgroup"))
    }
    switch key {
    case .pid: self = .pid(try container.decode(Int32.self, forKey: key))
    case .executable: self = .executable(try container.decode(String.self, forKey: key))
    case .cgroup: self = .cgroup(try container.decode(String.self, forKey: key))
    }
  }

  /// Encodes the one-key object form, such as `{"pid": 123}`.
  public func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    switch self {
    case .pid(let pid): try container.encode(pid, forKey: .pid)
    case .executable(let name): try container.encode(name, forKey: .executable)
    case .cgroup(let path): try container.encode(path, forKey: .cgroup)
    }
  }

  init(_ node: ConfigNode) throws(ConfigError) {
    let kinds = CodingKeys.allCases.map(\.rawValue)
    let fields = try node.mapping(keys: kinds)
    guard fields.count == 1, let (kind, value) = fields.first else {
      throw node.error("must have exactly one of: \(kinds.joined(separator: ", "))", quoting: false)
    }
    switch kind {
    case "pid": self = .pid(try value.parsed({ Int32($0) }, else: "is not a process id"))
    case "executable": self = .executable(try value.string())
    default: self = .cgroup(try value.string())
    }
  }
}
