/// One `vigil/v1` `NetworkPolicy`: the rules one endpoint's traffic is held to.
///
/// Encoding is canonical, for storage and API bodies: the YAML shape with defaults written out,
/// `policyTypes` sorted and empty lists left out (use `.sortedKeys` for byte-stable JSON).
/// Decoding validates like `parse(yaml:source:)` but, unlike it, ignores unknown keys.
public struct PolicyDocument: Codable, Equatable, Sendable {
  /// The `apiVersion` every document carries.
  public static let apiVersion = "vigil/v1"
  /// The `kind` every document carries.
  public static let kind = "NetworkPolicy"

  /// `metadata.name`, unique among all loaded documents.
  public var name: String
  /// The workload the policy applies to.
  public var endpoint: EndpointRef
  /// Whether verdicts are enforced or only counted.
  public var mode: PolicyMode
  /// The directions this policy makes default-deny.
  public var policyTypes: Set<PolicyDirection>
  /// Traffic arriving at the endpoint that is allowed.
  public var ingress: [PolicyRule]
  /// Traffic sent by the endpoint that is allowed.
  public var egress: [PolicyRule]
  /// Traffic arriving at the endpoint that is denied, whatever any policy allows.
  public var ingressDeny: [PolicyRule]
  /// Traffic sent by the endpoint that is denied, whatever any policy allows.
  public var egressDeny: [PolicyRule]

  /// A policy; `policyTypes` defaults as in Kubernetes: Ingress, plus Egress when `egress` has
  /// rules.
  public init(
    name: String, endpoint: EndpointRef, mode: PolicyMode = .enforce,
    policyTypes: Set<PolicyDirection>? = nil, ingress: [PolicyRule] = [],
    egress: [PolicyRule] = [], ingressDeny: [PolicyRule] = [], egressDeny: [PolicyRule] = []
  ) {
    self.name = name
    self.endpoint = endpoint
    self.mode = mode
    self.policyTypes = policyTypes ?? (egress.isEmpty ? [.ingress] : [.ingress, .egress])
    self.ingress = ingress
    self.egress = egress
    self.ingressDeny = ingressDeny
    self.egressDeny = egressDeny
  }

  /// The allow or deny rules of one direction.
  public func rules(_ direction: PolicyDirection, deny: Bool) -> [PolicyRule] {
    switch (direction, deny) {
    case (.ingress, false): ingress
    case (.egress, false): egress
    case (.ingress, true): ingressDeny
    case (.egress, true): egressDeny
    }
  }

  /// The spec key of one direction's allow or deny rules, such as `ingressDeny`.
  public static func ruleKey(_ direction: PolicyDirection, deny: Bool) -> String {
    (direction == .ingress ? "ingress" : "egress") + (deny ? "Deny" : "")
  }

  /// Every rule list as (direction, deny), in counter order: allows, then denies.
  static let ruleLists: [(direction: PolicyDirection, deny: Bool)] = [
    (.ingress, false), (.egress, false), (.ingress, true), (.egress, true),
  ]
}

/// Whether a policy drops traffic or only counts what it would drop.
public enum PolicyMode: String, Sendable, Codable, CaseIterable {
  /// Deny verdicts drop packets.
  case enforce
  /// Verdicts are evaluated and counted, never enforced.
  case audit
}

/// A traffic direction, relative to the endpoint.
public enum PolicyDirection: String, Sendable, Codable, CaseIterable, Comparable {
  /// Arriving at the workload (`VIGIL_DIR_INGRESS`).
  case ingress = "Ingress"
  /// Sent by the workload (`VIGIL_DIR_EGRESS`).
  case egress = "Egress"

  /// The ABI value: 0 for ingress, 1 for egress.
  public var abiValue: UInt32 { self == .ingress ? 0 : 1 }

  /// `ingress` or `egress`.
  public var word: String { self == .ingress ? "ingress" : "egress" }

  public static func < (left: PolicyDirection, right: PolicyDirection) -> Bool {
    left.abiValue < right.abiValue
  }
}
