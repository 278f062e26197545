import CVigilABI

/// One generation of policy as the datapath loads it: LPM trie entries, endpoint defaults and
/// what each counter counts. Equal inputs compile to equal (byte-identical) output.
public struct CompiledPolicy: Sendable, Equatable {
  /// LPM trie entries, sorted by endpoint direction, then address, then prefix length.
  public var entries: [(key: vigil_policy_key, value: vigil_policy_value)]
  /// The defaults of managed endpoint directions, by array index `id << 1 | direction`, sorted.
  public var endpointPolicies: [(index: UInt32, value: vigil_endpoint_policy)]
  /// Every counter, by index: rule counters (policies by name; per policy `ingress`, `egress`,
  /// `ingressDeny`, `egressDeny` in order), then the default counters by endpoint index.
  public var counters: [CounterInfo]

  public static func == (left: CompiledPolicy, right: CompiledPolicy) -> Bool {
    left.counters == right.counters
      && left.entries.elementsEqual(right.entries) {
        sameBytes($0.key, $1.key) && sameBytes($0.value, $1.value)
      }
      && left.endpointPolicies.elementsEqual(right.endpointPolicies) {
        $0.index == $1.index && sameBytes($0.value, $1.value)
      }
  }

  /// The verdict exactly as the datapath reaches it: the longest-prefix entry of the endpoint
  /// direction; any matching deny range, else the first matching allow range; else the endpoint
  /// direction's default, or `.none` when it has none.
  public func evaluate(
    endpointID: UInt32, direction: PolicyDirection, address: IPAddress, protocol number: UInt8,
    port: UInt16
  ) -> Verdict {
    let index = endpointID << 1 | direction.abiValue
    guard let policy = endpointPolicies.first(where: { $0.index == index })?.value,
      policy.default_action != VIGIL_ACTION_NONE.rawValue
    else { return .unmanaged }
    func verdict(_ action: UInt8, _ counter: UInt32) -> Verdict {
      Verdict(
        action: action == VIGIL_ACTION_DENY.rawValue ? .deny : .allow,
        counter: counters[Int(counter)], audit: policy.audit != 0)
    }
    let match = entries.filter { $0.key.endpointIndex == index && $0.key.matches(address) }
      .max { $0.key.prefixlen < $1.key.prefixlen }
    let ranges = match?.value.portRanges.filter { $0.matches(protocol: number, port: port) } ?? []
    let deny = UInt8(VIGIL_ACTION_DENY.rawValue)
    if let range = ranges.first(where: { $0.action == deny }) ?? ranges.first {
      return verdict(range.action, range.counter)
    }
    return verdict(policy.default_action, policy.default_counter)
  }
}
