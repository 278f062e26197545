extension PolicyRule {
  /// The rule at node `index` of `tree` when it has the common shape — a mapping of `from` (or
  /// `to`) and `ports`, peers `{ipBlock: {cidr, except}}` with plain IPv4 blocks, ports
  /// `{protocol, port, endPort}` with names and decimal ports, and no nulls — read without
  /// building nodes, closures or strings. Nil for anything else: ``init(reading:direction:)``
  /// then reads the rule or refuses it with a reason, and gives the same rule when this does.
  static func commonShape(in tree: YAMLTree, at index: Int, direction: PolicyDirection)
    -> PolicyRule?
  {
    let peerKey: StaticString = direction == .ingress ? "from" : "to"
    guard tree.nodes[index].kind == .mapping else { return nil }
    var peers: [IPBlock]?
    var ports: [PortSpec]?
    var children = tree.children(index)
    while let key = children.next(), let value = children.next() {
      if tree.hasText(key, peerKey) && peers == nil {
        guard let read = items(in: tree, at: value, ipBlock) else { return nil }
        peers = read
      } else if tree.hasText(key, "ports") && ports == nil {
        guard let read = items(in: tree, at: value, port) else { return nil }
        ports = read
      } else {
        return nil
      }
    }
    return PolicyRule(peers: peers ?? [], ports: ports ?? [])
  }

  /// Each item of the sequence at `index` read by `read`; nil when any is nil.
  private static func items<T>(
    in tree: YAMLTree, at index: Int, _ read: (YAMLTree, Int) -> T?
  ) -> [T]? {
    guard tree.nodes[index].kind == .sequence else { return nil }
    var values: [T] = []
    for item in tree.children(index) {
      guard let value = read(tree, item) else { return nil }
      values.append(value)
    }
    return values
  }

  /// `{ipBlock: {cidr: ..., except: [...]}}`.
  private static func ipBlock(in tree: YAMLTree, at index: Int) -> IPBlock? {
    guard tree.nodes[index].kind == .mapping else { return nil }
    var children = tree.children(index)
    guard let key = children.next(), let block = children.next(), children.next() == nil,
      tree.hasText(key, "ipBlock"), tree.nodes[block].kind == .mapping
    else { return nil }
    var cidr: IPPrefix?
    var except: [IPPrefix]?
    var fields = tree.children(block)
    while let key = fields.next(), let value = fields.next() {
      if tree.hasText(key, "cidr") && cidr == nil {
        guard let prefix = plainIPv4(in: tree, at: value) else { return nil }
        cidr = prefix
      } else if tree.hasText(key, "except") && except == nil {
        guard let prefixes = items(in: tree, at: value, plainIPv4) else { return nil }
        except = prefixes
      } else {
        return nil
      }
    }
    guard let cidr else { return nil }
    return IPBlock(cidr: cidr, except: except ?? [])
  }

  private static func plainIPv4(in tree: YAMLTree, at index: Int) -> IPPrefix? {
    guard !tree.isNull(index), tree.nodes[index].kind != .mapping,
      tree.nodes[index].kind != .sequence
    else { return nil }
    return tree.withText(index) { IPPrefix.plainIPv4(utf8: $0) }
  }

  /// `{protocol: ..., port: ..., endPort: ...}`, each optional.
  private static func port(in tree: YAMLTree, at index: Int) -> PortSpec? {
    guard tree.nodes[index].kind == .mapping else { return nil }
    var ipProtocol: IPProtocolName?
    var port: UInt16?
    var endPort: UInt16?
    var children = tree.children(index)
    while let key = children.next(), let value = children.next() {
      guard !tree.isNull(value), tree.nodes[value].kind != .mapping,
        tree.nodes[value].kind != .sequence
      else { return nil }
      if tree.hasText(key, "protocol") && ipProtocol == nil {
        guard let name = tree.withText(value, IPProtocolName.init(utf8:)) else { return nil }
        ipProtocol = name
      } else if tree.hasText(key, "port") && port == nil {
        guard let number = tree.withText(value, PortSpec.decimalPort) else { return nil }
        port = number
      } else if tree.hasText(key, "endPort") && endPort == nil {
        guard let number = tree.withText(value, PortSpec.decimalPort) else { return nil }
        endPort = number
      } else {
        return nil
      }
    }
    return PortSpec(ipProtocol ?? .tcp, port: port, endPort: endPort)
  }
}
