/// What the policy decides for one packet.
public struct Verdict: Equatable, Sendable, CustomStringConvertible {
  /// The decision.
  public var action: PolicyAction
  /// The counter the packet is counted in; nil when the direction is unmanaged.
  public var counter: CounterInfo?
  /// Whether the endpoint is in audit mode: the packet is counted, never dropped.
  public var audit: Bool

  /// A verdict.
  public init(action: PolicyAction, counter: CounterInfo?, audit: Bool) {
    self.action = action
    self.counter = counter
    self.audit = audit
  }

  /// The verdict for a direction no policy manages.
  public static let unmanaged = Verdict(action: .none, counter: nil, audit: false)

  /// For example `deny (web ingressDeny[0] deny, audit)`.
  public var description: String {
    let details = [counter?.description, audit ? "audit" : nil].compactMap { $0 }
    return details.isEmpty ? "\(action)" : "\(action) (\(details.joined(separator: ", ")))"
  }
}

/// A packet's fate.
public enum PolicyAction: Sendable, Equatable {
  /// Passed by a rule or the default.
  case allow
  /// Dropped (counted only, in audit mode).
  case deny
  /// Not managed by any policy: passed untouched.
  case none
}
