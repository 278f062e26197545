/// One allow or deny rule: traffic to or from `peers` on `ports`.
public struct PolicyRule: Equatable, Sendable, CustomStringConvertible {
  /// The remote address blocks (`from` or `to`); empty means every IPv4 and IPv6 address.
  public var peers: [IPBlock]
  /// The protocols and destination ports; empty means every protocol and port.
  public var ports: [PortSpec]

  /// A rule over `peers` and `ports`.
  public init(peers: [IPBlock] = [], ports: [PortSpec] = []) {
    self.peers = peers
    self.ports = ports
  }

  /// Whether a packet with this remote address, IP protocol number and port matches.
  public func matches(address: IPAddress, protocol number: UInt8, port: UInt16) -> Bool {
    (peers.isEmpty || peers.contains { $0.contains(address) })
      && (ports.isEmpty || ports.contains { $0.matches(protocol: number, port: port) })
  }

  /// For example `10.0.0.0/8 except 10.1.0.0/16 on TCP/80, TCP/8000-8100`.
  public var description: String {
    let peerText =
      peers.isEmpty ? "any address" : peers.map(\.description).joined(separator: ", ")
    let portText = ports.isEmpty ? "any port" : ports.map(\.description).joined(separator: ", ")
    return "\(peerText) on \(portText)"
  }
}

/// An address block minus the blocks in `except`.
public struct IPBlock: Equatable, Sendable, Codable, CustomStringConvertible {
  /// The block.
  public var cidr: IPPrefix
  /// Blocks inside `cidr` that are left out.
  public var except: [IPPrefix]

  /// `cidr` without `except`.
  public init(cidr: IPPrefix, except: [IPPrefix] = []) {
    self.cidr = cidr
    self.except = except
  }

  /// Whether `address` is in `cidr` and in none of `except`.
  public func contains(_ address: IPAddress) -> Bool {
    cidr.contains(address) && !except.contains { $0.contains(address) }
  }

  public var description: String {
    except.isEmpty
      ? cidr.description : "\(cidr) except \(except.map(\.description).joined(separator: ", "))"
  }

  private enum Keys: String, CodingKey { case cidr, except }

  public init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: Keys.self)
    cidr = try container.decode(IPPrefix.self, forKey: .cidr)
    except = try container.decodeIfPresent([IPPrefix].self, forKey: .except) ?? []
  }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: Keys.self)
    try container.encode(cidr, forKey: .cidr)
    if !except.isEmpty { try container.encode(except, forKey: .except) }
  }
}

/// A protocol with an optional destination port or port interval.
public struct PortSpec: Equatable, Sendable, Codable, CustomStringConvertible {
  /// The protocol; TCP unless written.
  public var ipProtocol: IPProtocolName
  /// The port, or nil for every port of the protocol.
  public var port: UInt16?
  /// The last port of an interval starting at `port`.
  public var endPort: UInt16?

  /// `ipProtocol` on `port` (through `endPort`).
  public init(_ ipProtocol: IPProtocolName = .tcp, port: UInt16? = nil, endPort: UInt16? = nil) {
    self.ipProtocol = ipProtocol
    self.port = port
    self.endPort = endPort
  }

  /// The destination ports matched: every port when `port` is nil.
  public var portRange: ClosedRange<UInt16> {
    guard let port else { return 0...UInt16.max }
    return port...max(port, endPort ?? port)
  }

  /// Whether a packet of IP protocol `number` to `port` matches.
  public func matches(protocol number: UInt8, port: UInt16) -> Bool {
    number == ipProtocol.number && portRange.contains(port)
  }

  /// `TCP/80`, `TCP/8000-8100`, or `UDP` for every port.
  public var description: String {
    switch (port, endPort) {
    case (nil, _): ipProtocol.rawValue
    case (let port?, nil): "\(ipProtocol.rawValue)/\(port)"
    case (let port?, let end?): "\(ipProtocol.rawValue)/\(port)-\(end)"
    }
  }

  private enum Keys: String, CodingKey {
    case ipProtocol = "protocol"
    case port, endPort
  }

  public init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: Keys.self)
    ipProtocol = try container.decodeIfPresent(IPProtocolName.self, forKey: .ipProtocol) ?? .tcp
    port = try container.decodeIfPresent(UInt16.self, forKey: .port)
    endPort = try container.decodeIfPresent(UInt16.self, forKey: .endPort)
  }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: Keys.self)
    try container.encode(ipProtocol, forKey: .ipProtocol)
    try container.encodeIfPresent(port, forKey: .port)
    try container.encodeIfPresent(endPort, forKey: .endPort)
  }
}

/// The protocols a port entry may name, spelled as in Kubernetes.
public enum IPProtocolName: String, Sendable, Codable, CaseIterable {
  case tcp = "TCP"
  case udp = "UDP"
  case sctp = "SCTP"
  case icmp = "ICMP"
  case icmpv6 = "ICMPv6"

  /// The IP protocol number (`IPPROTO_*`).
  public var number: UInt8 {
    switch self {
    case .tcp: 6
    case .udp: 17
    case .sctp: 132
    case .icmp: 1
    case .icmpv6: 58
    }
  }

  /// Whether entries of this protocol may name ports.
  public var hasPorts: Bool { self != .icmp && self != .icmpv6 }
}
