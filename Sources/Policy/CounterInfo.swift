/// What one counter of a compiled policy counts: a rule's matches or an endpoint direction's
/// default verdicts.
public struct CounterInfo: Hashable, Sendable, CustomStringConvertible {
  /// The kind of verdict counted.
  public enum Kind: String, Sendable {
    case allow, deny
    /// Traffic no rule matched.
    case `default`
  }

  /// The policy of a rule counter; nil for a default counter.
  public var policy: String?
  /// The endpoint counted.
  public var endpoint: EndpointRef
  /// The direction counted.
  public var direction: PolicyDirection
  /// Allow rule, deny rule, or default.
  public var kind: Kind
  /// The rule's index in its list (`ingress`, `egressDeny`...); nil for a default counter.
  public var ruleIndex: Int?

  /// A rule's counter.
  static func rule(_ document: PolicyDocument, _ direction: PolicyDirection, deny: Bool, index: Int)
    -> CounterInfo
  {
    CounterInfo(
      policy: document.name, endpoint: document.endpoint, direction: direction,
      kind: deny ? .deny : .allow, ruleIndex: index)
  }

  /// An endpoint direction's default counter.
  static func fallback(_ endpoint: EndpointRef, _ direction: PolicyDirection) -> CounterInfo {
    CounterInfo(
      policy: nil, endpoint: endpoint, direction: direction, kind: .default, ruleIndex: nil)
  }

  /// `web ingress[0] allow`, `web egressDeny[1] deny`, or `eth0@web ingress default`.
  public var description: String {
    guard let policy, let ruleIndex else { return "\(endpoint) \(direction.word) default" }
    let list = PolicyDocument.ruleKey(direction, deny: kind == .deny)
    return "\(policy) \(list)[\(ruleIndex)] \(kind.rawValue)"
  }
}
