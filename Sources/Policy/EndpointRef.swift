/// The workload a policy applies to: an interface (in a network namespace) or a cgroup.
public enum EndpointRef: Hashable, Sendable, Codable, CustomStringConvertible {
  /// An interface; `netns` is a name under `/var/run/netns` or an absolute path, nil for the host.
  case interface(name: String, netns: String?)
  /// A cgroup v2 directory, as an absolute path.
  case cgroup(path: String)

  /// `eth0`, `eth0@web` (with a network namespace), or the cgroup path.
  public var description: String {
    switch self {
    case .interface(let name, nil): name
    case .interface(let name, let netns?): "\(name)@\(netns)"
    case .cgroup(let path): path
    }
  }

  private enum Keys: String, CodingKey { case interface, netns, cgroup }

  public init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: Keys.self)
    let interface = try container.decodeIfPresent(String.self, forKey: .interface)
    let netns = try container.decodeIfPresent(String.self, forKey: .netns)
    switch (interface, try container.decodeIfPresent(String.self, forKey: .cgroup)) {
    case (let name?, nil): self = .interface(name: name, netns: netns)
    case (nil, let path?) where netns == nil: self = .cgroup(path: path)
    default:
      throw DecodingError.dataCorruptedError(
        forKey: .interface, in: container,
        debugDescription: "an endpoint is an interface (with an optional netns) or a cgroup")
    }
  }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: Keys.self)
    switch self {
    case .interface(let name, let netns):
      try container.encode(name, forKey: .interface)
      try container.encodeIfPresent(netns, forKey: .netns)
    case .cgroup(let path):
      try container.encode(path, forKey: .cgroup)
    }
  }
}
