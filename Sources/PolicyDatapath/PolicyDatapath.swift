import BPFCore
import CVigilABI
import Glibc
import VigilBPF

/// The policy classifier, loaded, with its generations of policy.
///
/// A generation lives in one slot of two map-of-maps (rules, endpoint defaults).
/// `install` fills fresh inner maps in a slot the datapath is not reading, then
/// flips `vigil_pol_state` to it with one array write: a packet reads the slot
/// once, so it sees one whole generation, never a mix.
///
/// Not yet: pinning and re-adoption, attaching endpoints, and refreshing spare
/// slots ahead of time (today the slot's outer-map update, ~8 ms of RCU grace
/// period, happens inside `install`).
public final class PolicyDatapath: Sendable {
  /// Counter slots per generation.
  public let counterCapacity: UInt32
  /// LPM entries per generation.
  public let ruleCapacity: UInt32

  private let object: BPFObject
  private let state: BPFMap<UInt32, vigil_policy_state>
  private let rulesOuter: BPFMap<UInt32, UInt32>
  private let endpointsOuter: BPFMap<UInt32, UInt32>
  private let interfaces: BPFMap<vigil_interface_key, UInt32>
  private let counters: BPFMap<UInt32, vigil_policy_counter>

  /// Loads the classifier (not attached anywhere, no policy active).
  public init(ruleCapacity: UInt32, counterCapacity: UInt32) throws(BPFError) {
    self.ruleCapacity = ruleCapacity
    self.counterCapacity = counterCapacity
    object = try BPFObject(bytes: EmbeddedBPF.policy, name: "policy.bpf.o")
    try object.setMaxEntries(map: "vigil_pol_count", counterCapacity * UInt32(VIGIL_POLICY_SLOTS))
    try object.setGlobal(section: ".rodata", name: "vigil_counter_capacity", value: counterCapacity)
    try object.load()
    state = try BPFMap(fd: object.mapFD("vigil_pol_state"))
    rulesOuter = try BPFMap(fd: object.mapFD("vigil_pol_rules"))
    endpointsOuter = try BPFMap(fd: object.mapFD("vigil_pol_eps"))
    interfaces = try BPFMap(fd: object.mapFD("vigil_pol_ifaces"))
    counters = try BPFMap(fd: object.mapFD("vigil_pol_count"))
    // A zeroed state would name slot 0: start with no generation at all.
    try state.update(
      0, vigil_policy_state(slot: UInt32(VIGIL_POLICY_SLOTS), _pad: 0, generation: 0))
  }

  /// One of the classifier's programs (`vigil_tc_ingress`, `vigil_tc_egress`, `vigil_cg_*`).
  public func program(_ name: String) throws(BPFError) -> BPFProgram { try object.program(name) }

  /// The active slot and generation, nil when no policy is active.
  public func active() throws(BPFError) -> vigil_policy_state? {
    guard let current = try state.lookup(0), current.slot < UInt32(VIGIL_POLICY_SLOTS) else {
      return nil
    }
    return current
  }

  /// Makes interface `ifindex` of the namespace with `netnsCookie` endpoint `endpoint`.
  public func registerInterface(netnsCookie: UInt64, ifindex: UInt32, endpoint: UInt32)
    throws(BPFError)
  {
    try interfaces.update(
      vigil_interface_key(netns_cookie: netnsCookie, ifindex: ifindex, _pad: 0), endpoint)
  }

  /// How long each step of an install took, in nanoseconds.
  public struct InstallTiming: Sendable {
    /// Creating and filling the inner maps and zeroing the slot's counters.
    public var fillNanoseconds: UInt64
    /// Putting the inner maps in the slot (each waits for an RCU grace period).
    public var slotNanoseconds: UInt64
    /// The flip: one array write, after which every new packet sees the generation.
    public var flipNanoseconds: UInt64
  }

  /// Builds `generation` in a slot the datapath does not read and flips to it.
  /// A rejected generation (too many entries) changes nothing.
  @discardableResult
  public func install(
    generation: UInt64, entries: [(key: vigil_policy_key, value: vigil_policy_value)],
    endpointPolicies: [(index: UInt32, value: vigil_endpoint_policy)], counterCount: Int
  ) throws(BPFError) -> InstallTiming {
    guard entries.count <= Int(ruleCapacity), counterCount <= Int(counterCapacity) else {
      throw BPFError(
        function: "PolicyDatapath.install",
        context:
          "generation \(generation) needs \(entries.count) entries and \(counterCount) counters; capacity is \(ruleCapacity) and \(counterCapacity)",
        errno: E2BIG)
    }
    let start = monotonicNanoseconds()
    let slot = ((try active()?.slot).map { $0 + 1 } ?? 0) % UInt32(VIGIL_POLICY_SLOTS)
    let rules = try BPFMap<vigil_policy_key, vigil_policy_value>.create(
      type: .lpmTrie, name: "vigil_pol_r\(slot)", maxEntries: max(ruleCapacity, 1),
      flags: BPFMapFlags.noPrealloc)
    try rules.updateBatch(keys: entries.map(\.key), values: entries.map(\.value))
    let endpoints = try BPFMap<UInt32, vigil_endpoint_policy>.create(
      type: .array, name: "vigil_pol_e\(slot)", maxEntries: UInt32(VIGIL_POLICY_MAX_ENDPOINTS) * 2)
    try endpoints.updateBatch(
      keys: endpointPolicies.map(\.index), values: endpointPolicies.map(\.value))
    let base = slot * counterCapacity
    try counters.updateBatchPerCPU(
      keys: (0..<UInt32(counterCount)).map { base + $0 },
      value: vigil_policy_counter(packets: 0, bytes: 0))
    let filled = monotonicNanoseconds()
    try rulesOuter.setInner(slot, map: rules.fd)
    try endpointsOuter.setInner(slot, map: endpoints.fd)
    let slotted = monotonicNanoseconds()
    try state.update(0, vigil_policy_state(slot: slot, _pad: 0, generation: generation))
    let flipped = monotonicNanoseconds()
    return InstallTiming(
      fillNanoseconds: filled - start, slotNanoseconds: slotted - filled,
      flipNanoseconds: flipped - slotted)
  }

  /// Packet and byte counts of the active generation's first `count` counters, summed over CPUs.
  public func counterValues(count: Int) throws(BPFError) -> [vigil_policy_counter] {
    guard let active = try active() else { return [] }
    var result: [vigil_policy_counter] = []
    for counter in 0..<UInt32(count) {
      let perCPU = try counters.perCPUValues(active.slot * counterCapacity + counter)
      result.append(
        vigil_policy_counter(
          packets: perCPU.reduce(0) { $0 + $1.packets }, bytes: perCPU.reduce(0) { $0 + $1.bytes }))
    }
    return result
  }
}

/// CLOCK_MONOTONIC in nanoseconds.
func monotonicNanoseconds() -> UInt64 {
  var now = timespec()
  clock_gettime(CLOCK_MONOTONIC, &now)
  return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
}
