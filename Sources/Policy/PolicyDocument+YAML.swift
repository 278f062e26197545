extension PolicyDocument {
  /// Parses and validates the `---`-separated documents of `yaml`, read from `source`; empty
  /// documents are skipped.
  public static func parse(yaml: String, source: String) throws(PolicyError) -> [PolicyDocument] {
    let documents = try parseLocated(yaml: yaml, source: source)
    try validate(documents)
    return documents.map(\.document)
  }

  /// The documents of `yaml`, each validated on its own, with where they came from.
  static func parseLocated(yaml: String, source: String) throws(PolicyError) -> [LocatedDocument] {
    var documents: [LocatedDocument] = []
    for (offset, root) in try PolicyNode.documents(yaml: yaml, source: source).enumerated() {
      guard let root else { continue }
      let name = root.peek("metadata", "name")
      do {
        let document = try PolicyDocument(reading: root)
        try document.validate()
        documents.append(LocatedDocument(document: document, source: source, index: offset + 1))
      } catch {
        throw error.located(source: source, document: offset + 1, policy: name)
      }
    }
    return documents
  }

  /// Reads one document's fields; cross-field checks are left to `validate()`.
  init(reading root: PolicyNode) throws(PolicyError) {
    let fields = try root.mapping(keys: Self.documentKeys)
    try fields.required("apiVersion", hint: Self.apiVersion) { node throws(PolicyError) in
      guard try node.string() == Self.apiVersion else {
        throw node.error("is not supported (expected \(Self.apiVersion))")
      }
    }
    try fields.required("kind", hint: Self.kind) { node throws(PolicyError) in
      guard try node.string() == Self.kind else {
        throw node.error("is not supported (expected \(Self.kind))")
      }
    }
    let name = try fields.required("metadata") { node throws(PolicyError) in
      try node.mapping(keys: ["name"]).required("name") { name throws(PolicyError) in
        try name.string()
      }
    }
    let spec = try fields.required("spec") { node throws(PolicyError) in
      try node.mapping(keys: Self.specKeys)
    }
    func read(_ spec: PolicyFields) throws(PolicyError) -> PolicyDocument {
      let endpoint = try spec.required("endpoint", hint: "interface or cgroup") {
        node throws(PolicyError) in try EndpointRef(reading: node)
      }
      let mode = try spec.read("mode") { node throws(PolicyError) in
        try node.parsed(PolicyMode.init, else: "is not a mode (enforce or audit)")
      }
      func rules(_ direction: PolicyDirection, deny: Bool) throws(PolicyError) -> [PolicyRule] {
        try spec.read(Self.ruleField(direction, deny: deny)) { node throws(PolicyError) in
          try node.itemsConcurrently { item throws(PolicyError) in
            if let rule = PolicyRule.commonShape(
              in: item.tree, at: item.index, direction: direction)
            {
              return rule
            }
            return try PolicyRule(reading: item, direction: direction)
          }
        } ?? []
      }
      return PolicyDocument(
        name: name, endpoint: endpoint, mode: mode ?? .enforce,
        policyTypes: try spec.read("policyTypes") { node throws(PolicyError) in
          try node.policyTypes()
        },
        ingress: try rules(.ingress, deny: false), egress: try rules(.egress, deny: false),
        ingressDeny: try rules(.ingress, deny: true), egressDeny: try rules(.egress, deny: true))
    }
    do {
      self = try read(spec)
    } catch {
      throw error.within("spec")
    }
  }

  private static let documentKeys: [StaticString] = ["apiVersion", "kind", "metadata", "spec"]
  private static let specKeys: [StaticString] = [
    "endpoint", "mode", "policyTypes", "ingress", "egress", "ingressDeny", "egressDeny",
  ]

  /// `ruleKey(direction, deny:)` as a literal, for reading.
  private static func ruleField(_ direction: PolicyDirection, deny: Bool) -> StaticString {
    switch (direction, deny) {
    case (.ingress, false): "ingress"
    case (.egress, false): "egress"
    case (.ingress, true): "ingressDeny"
    case (.egress, true): "egressDeny"
    }
  }
}

extension PolicyNode {
  /// Reads a list of distinct directions.
  fileprivate func policyTypes() throws(PolicyError) -> Set<PolicyDirection> {
    var types: Set<PolicyDirection> = []
    for (index, item) in try items({ $0 }).enumerated() {
      do throws(PolicyError) {
        let direction = try item.parsed(
          PolicyDirection.init, else: "is not a policy type (Ingress or Egress)")
        guard types.insert(direction).inserted else { throw item.error("is listed twice") }
      } catch {
        throw error.within("[\(index)]")
      }
    }
    return types
  }
}

extension EndpointRef {
  private static let keys: [StaticString] = ["interface", "netns", "cgroup"]

  /// Reads `{interface, netns}` or `{cgroup}`.
  init(reading node: PolicyNode) throws(PolicyError) {
    let fields = try node.mapping(keys: Self.keys)
    let string = { (node: PolicyNode) throws(PolicyError) in try node.string() }
    switch (fields.contains("interface"), fields.contains("cgroup")) {
    case (true, false):
      self = .interface(
        name: try fields.read("interface", nulls: true, string)!,
        netns: try fields.read("netns", nulls: true, string))
    case (false, true):
      if fields.contains("netns") {
        throw PolicyError(field: "netns", reason: "only applies to an interface endpoint")
      }
      self = .cgroup(path: try fields.read("cgroup", nulls: true, string)!)
    case (true, true):
      throw node.error("sets both interface and cgroup (choose one)")
    case (false, false):
      throw node.error("needs interface or cgroup")
    }
  }
}

extension PolicyRule {
  private static let ingressKeys: [StaticString] = ["from", "ports"]
  private static let egressKeys: [StaticString] = ["to", "ports"]

  /// Reads `{from: [{ipBlock}], ports: [...]}` for ingress, `{to: ...}` for egress.
  init(reading node: PolicyNode, direction: PolicyDirection) throws(PolicyError) {
    let keys = direction == .ingress ? Self.ingressKeys : Self.egressKeys
    let fields = try node.mapping(keys: keys)
    let peers = try fields.read(keys[0]) { node throws(PolicyError) in
      try node.items { item throws(PolicyError) in
        try item.mapping(keys: ["ipBlock"]).required("ipBlock") { block throws(PolicyError) in
          try IPBlock(reading: block)
        }
      }
    }
    let ports = try fields.read("ports") { node throws(PolicyError) in
      try node.items(PortSpec.init(reading:))
    }
    self.init(peers: peers ?? [], ports: ports ?? [])
  }
}

extension IPBlock {
  private static let keys: [StaticString] = ["cidr", "except"]

  /// Reads `{cidr, except}`.
  init(reading node: PolicyNode) throws(PolicyError) {
    let fields = try node.mapping(keys: Self.keys)
    self.init(
      cidr: try fields.required("cidr", IPPrefix.init(reading:)),
      except: try fields.read("except") { node throws(PolicyError) in
        try node.items(IPPrefix.init(reading:))
      } ?? [])
  }
}

extension IPPrefix {
  /// Reads a CIDR block.
  init(reading node: PolicyNode) throws(PolicyError) {
    if let prefix = node.converted(IPPrefix.plainIPv4(utf8:)) {
      self = prefix
      return
    }
    let text = try node.string()
    do {
      try self.init(text)
    } catch {
      throw node.error(error.reason)
    }
  }
}

extension PortSpec {
  private static let keys: [StaticString] = ["protocol", "port", "endPort"]

  /// Reads `{protocol, port, endPort}`.
  init(reading node: PolicyNode) throws(PolicyError) {
    let fields = try node.mapping(keys: Self.keys)
    self.init(
      try fields.read("protocol", Self.readProtocol) ?? .tcp,
      port: try fields.read("port", Self.readPort),
      endPort: try fields.read("endPort", Self.readPort))
  }

  private static func readProtocol(_ node: PolicyNode) throws(PolicyError) -> IPProtocolName {
    if let name = node.converted(IPProtocolName.init(utf8:)) { return name }
    return try node.parsed(
      IPProtocolName.init,
      else: "is not a protocol (\(IPProtocolName.allCases.map(\.rawValue).joined(separator: ", ")))"
    )
  }

  private static func readPort(_ node: PolicyNode) throws(PolicyError) -> UInt16 {
    if let port = node.converted(Self.decimalPort) { return port }
    return try node.parsed({ UInt16($0) }, else: "is not a port (1-65535)")
  }

  /// One to five ASCII digits up to 65535, as `UInt16(_:)` reads them; nil for anything else.
  static func decimalPort(_ text: UnsafeBufferPointer<UInt8>) -> UInt16? {
    guard (1...5).contains(text.count) else { return nil }
    var value = 0
    for byte in text {
      guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
      value = value * 10 + Int(byte - UInt8(ascii: "0"))
    }
    return UInt16(exactly: value)
  }
}

extension IPProtocolName {
  /// The protocol spelled exactly `text`; nil for anything else.
  init?(utf8 text: UnsafeBufferPointer<UInt8>) {
    let spelled = { (name: StaticString) in text.sameBytes(name.utf8Buffer) }
    switch text.count {
    case 3 where spelled("TCP"): self = .tcp
    case 3 where spelled("UDP"): self = .udp
    case 4 where spelled("SCTP"): self = .sctp
    case 4 where spelled("ICMP"): self = .icmp
    case 6 where spelled("ICMPv6"): self = .icmpv6
    default: return nil
    }
  }
}

/// A document with the file and position it was read from, for errors that span documents.
/// A document with where it came from, for error messages.
public struct LocatedDocument: Sendable {
  public let document: PolicyDocument
  /// The file (or other source) it was read from.
  public let source: String?
  /// Its position in the source, counted from 1.
  public let index: Int?

  /// An error about `field` of this document.
  public func error(field: String, value: String?, reason: String) -> PolicyError {
    PolicyError(
      source: source, document: index, policy: document.name, field: field, value: value,
      reason: reason)
  }
}
