import BPFCore
import CVigilABI
import Dispatch
import Glibc
import Synchronization
import VigilBPF

/// The policy classifier, loaded and pinned, with its generations of policy.
///
/// A generation lives in one of three slots of three map-of-maps (address line, values,
/// endpoint defaults): the live one, the previous one, and a spare whose inner maps are fresh.
/// `install` writes the spare's inner maps, which no packet reads, through their memory
/// mappings, then flips `vigil_pol_state` to it with one array write: a packet reads the state
/// once, so it sees one whole generation, never a mix. Putting fresh maps in a slot waits for
/// an RCU grace period (~8–16 ms), so that is done by `prepareSpare()` after a flip, off the
/// apply path, sized for the live generation with room to grow; a generation that does not fit
/// gets maps of its own size at install, and waits for the grace period then.
///
/// Maps are pinned under `pinDirectory`; a new instance re-adopts them, so enforcement (the
/// links, see `PolicyAttachments`) and the live generation outlive the daemon.
///
/// Not thread-safe: callers serialize `install`, `prepareSpare` and attachment changes.
public final class PolicyDatapath: @unchecked Sendable {
  /// Map names in `bpf/lib/policy_maps.h`, all pinned.
  static let mapNames = [
    "vigil_pol_state", "vigil_pol_line", "vigil_pol_vals", "vigil_pol_eps", "vigil_pol_ifaces",
    "vigil_pol_cgroups", "vigil_pol_count", "vigil_pol_ct",
  ]

  /// Counter slots per generation.
  public let counterCapacity: UInt32
  /// Flows the connection table remembers; the least recently used go when it is full.
  public let flowCapacity: UInt32
  /// Address blocks per generation (values; the address line has at most twice as many
  /// boundaries).
  public let ruleCapacity: UInt32
  /// Where maps and links are pinned; nil for an unpinned datapath (tests, benchmarks).
  public let pinDirectory: String?
  /// True when the maps (and so the live generation) were re-adopted from pins.
  public let adopted: Bool

  let object: BPFObject
  private let state: BPFMap<UInt32, vigil_policy_state>
  private let linesOuter: BPFMap<UInt32, UInt32>
  private let valuesOuter: BPFMap<UInt32, UInt32>
  private let endpointsOuter: BPFMap<UInt32, UInt32>
  let interfaces: BPFMap<vigil_interface_key, UInt32>
  let cgroups: BPFMap<UInt64, UInt32>
  private let counters: BPFMap<UInt32, vigil_policy_counter>
  /// The slot after the live one, once it holds fresh inner maps and zeroed counters.
  private var spare: Spare?
  /// The size of the live generation, which the next spare is made for.
  private var liveSize = Size(boundaries: 0, values: 0)
  /// Per slot, how many leading counters may be non-zero (all of them until known).
  private var dirtyCounters: [UInt32]

  private struct Spare {
    var slot: UInt32
    var line: BPFMappedArray<vigil_policy_boundary>
    var values: BPFMappedArray<vigil_policy_value>
    var endpoints: BPFMap<UInt32, vigil_endpoint_policy>

    /// Whether a generation of `size` fits.
    func holds(_ size: Size) -> Bool {
      size.boundaries <= line.count && size.values <= values.count
    }
  }

  /// How many boundaries and values a generation has, or a spare holds.
  private struct Size {
    var boundaries: Int
    var values: Int

    /// Room for this size and a quarter more, and for at least 256 boundaries.
    var withRoom: Size {
      Size(
        boundaries: max(boundaries + boundaries / 4, 256), values: max(values + values / 4, 128))
    }
  }

  /// Loads the classifier, re-adopting the maps pinned under `pinDirectory` when there are
  /// any. Pinned counters and connection tables keep their size: `counterCapacity` and
  /// `flowCapacity` are then the pinned ones.
  public init(
    pinDirectory: String?, ruleCapacity: UInt32, counterCapacity: UInt32,
    flowCapacity: UInt32 = 65_536
  ) throws(BPFError) {
    self.pinDirectory = pinDirectory
    self.ruleCapacity = ruleCapacity
    var counterCapacity = counterCapacity
    var flowCapacity = flowCapacity
    var adopted = false
    object = try BPFObject(bytes: EmbeddedBPF.policy, name: "policy.bpf.o")
    if let pinDirectory {
      try BPFPin.makeDirectory(pinDirectory)
      let countPin = "\(pinDirectory)/vigil_pol_count"
      if BPFPin.exists(countPin) {
        let pinned = try BPFMapInfo(fd: BPFPin.open(countPin))
        counterCapacity = pinned.maxEntries / UInt32(VIGIL_POLICY_SLOTS)
      }
      let flowPin = "\(pinDirectory)/vigil_pol_ct"
      if BPFPin.exists(flowPin) {
        flowCapacity = try BPFMapInfo(fd: BPFPin.open(flowPin)).maxEntries
      }
      for map in Self.mapNames where BPFPin.exists("\(pinDirectory)/\(map)") {
        try object.reuseMap(map, fd: BPFPin.open("\(pinDirectory)/\(map)"))
        adopted = true
      }
    }
    self.counterCapacity = counterCapacity
    self.flowCapacity = flowCapacity
    self.adopted = adopted
    dirtyCounters = Array(repeating: counterCapacity, count: Int(VIGIL_POLICY_SLOTS))
    try object.setMaxEntries(map: "vigil_pol_count", counterCapacity * UInt32(VIGIL_POLICY_SLOTS))
    try object.setMaxEntries(map: "vigil_pol_ct", flowCapacity)
    try object.setGlobal(section: ".rodata", name: "vigil_counter_capacity", value: counterCapacity)
    try object.load()
    state = try BPFMap(fd: object.mapFD("vigil_pol_state"))
    linesOuter = try BPFMap(fd: object.mapFD("vigil_pol_line"))
    valuesOuter = try BPFMap(fd: object.mapFD("vigil_pol_vals"))
    endpointsOuter = try BPFMap(fd: object.mapFD("vigil_pol_eps"))
    interfaces = try BPFMap(fd: object.mapFD("vigil_pol_ifaces"))
    cgroups = try BPFMap(fd: object.mapFD("vigil_pol_cgroups"))
    counters = try BPFMap(fd: object.mapFD("vigil_pol_count"))
    if !adopted {
      // A zeroed state would name slot 0: start with no generation at all.
      try state.update(
        0, vigil_policy_state(slot: UInt32(VIGIL_POLICY_SLOTS), _pad: 0, generation: 0))
    } else if let live = try active(), let line = try linesOuter.lookup(live.slot),
      let values = try valuesOuter.lookup(live.slot)
    {
      liveSize = Size(
        boundaries: Int(try BPFMap<UInt32, vigil_policy_boundary>(id: line).info.maxEntries),
        values: Int(try BPFMap<UInt32, vigil_policy_value>(id: values).info.maxEntries))
    }
    if let pinDirectory {
      for map in Self.mapNames where !BPFPin.exists("\(pinDirectory)/\(map)") {
        try BPFPin.pin(object.mapFD(map), at: "\(pinDirectory)/\(map)")
      }
    }
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

  /// Makes interface `ifindex` of the namespace with `netnsCookie` endpoint `endpoint` without
  /// attaching anything (for BPF_PROG_TEST_RUN; `attach` does both).
  public func registerInterface(netnsCookie: UInt64, ifindex: UInt32, endpoint: UInt32)
    throws(BPFError)
  {
    try interfaces.update(
      vigil_interface_key(netns_cookie: netnsCookie, ifindex: ifindex, _pad: 0), endpoint)
  }

  /// True when the next `install` finds its slot ready and does not wait for a grace period.
  public var spareIsReady: Bool { spare != nil }

  /// Puts fresh inner maps, sized for the live generation with room to grow, and zeroed
  /// counters in the slot after the live one, which no packet reads. Waits for an RCU grace
  /// period (three, overlapped); nothing to do when already ready. Returns how long it took,
  /// in nanoseconds.
  @discardableResult
  public func prepareSpare() throws(BPFError) -> UInt64 {
    try prepareSpare(holding: liveSize)
  }

  private func prepareSpare(holding size: Size) throws(BPFError) -> UInt64 {
    let start = monotonicNanoseconds()
    let slot = ((try active()?.slot).map { $0 + 1 } ?? 0) % UInt32(VIGIL_POLICY_SLOTS)
    if let spare, spare.slot == slot, spare.holds(size) { return 0 }
    spare = nil
    // The slot was live two generations ago; a grace period has passed since it was left
    // (the previous prepareSpare or install waited for one after that flip), so no packet
    // still reads it.
    let room = size.withRoom
    let inner = BPFMapFlags.innerMap
    let line = try BPFMappedArray<vigil_policy_boundary>(
      name: "vigil_pol_l\(slot)", count: room.boundaries, flags: inner)
    let values = try BPFMappedArray<vigil_policy_value>(
      name: "vigil_pol_v\(slot)", count: room.values, flags: inner)
    let endpoints = try BPFMap<UInt32, vigil_endpoint_policy>.create(
      type: .array, name: "vigil_pol_e\(slot)", maxEntries: UInt32(VIGIL_POLICY_MAX_ENDPOINTS) * 2)
    try counters.updateBatchPerCPU(
      keys: (0..<dirtyCounters[Int(slot)]).map { slot * counterCapacity + $0 },
      value: vigil_policy_counter(packets: 0, bytes: 0))
    dirtyCounters[Int(slot)] = 0
    try Self.setInnerConcurrently(
      slot,
      [(linesOuter, line.map.fd), (valuesOuter, values.map.fd), (endpointsOuter, endpoints.fd)])
    spare = Spare(slot: slot, line: line, values: values, endpoints: endpoints)
    return monotonicNanoseconds() - start
  }

  /// Puts each inner map in `slot` of its outer map, all at once so their RCU grace periods
  /// overlap.
  private static func setInnerConcurrently(
    _ slot: UInt32, _ updates: [(outer: BPFMap<UInt32, UInt32>, inner: OwnedFD)]
  ) throws(BPFError) {
    let errors = Mutex<[BPFError]>([])
    DispatchQueue.concurrentPerform(iterations: updates.count) { index in
      do throws(BPFError) {
        try updates[index].outer.setInner(slot, map: updates[index].inner)
      } catch {
        errors.withLock { $0.append(error) }
      }
    }
    if let error = errors.withLock({ $0.first }) { throw error }
  }

  /// How long each step of an install took, in nanoseconds.
  public struct InstallTiming: Sendable {
    /// Preparing the slot when it was not ready or too small (an RCU grace period); 0 when it was.
    public var slotNanoseconds: UInt64
    /// Filling the slot's inner maps.
    public var fillNanoseconds: UInt64
    /// Waiting for `beforeFlip` once the maps were filled.
    public var waitNanoseconds: UInt64
    /// The flip: one array write, after which every new packet sees the generation.
    public var flipNanoseconds: UInt64
    /// When the flip was done, in `CLOCK_MONOTONIC` nanoseconds.
    public var flippedAt: UInt64
  }

  /// Builds `generation` (its address `line` and `values`, and the endpoint directions'
  /// defaults and spans of the line) in the spare slot and flips to it, once `beforeFlip` (run
  /// after the fill) returns true; when it returns false, nothing is flipped and this throws
  /// ECANCELED. A rejected generation (over capacity) changes nothing. Call `prepareSpare()`
  /// afterwards, off the apply path, so the next install does not wait for it.
  @discardableResult
  public func install(
    generation: UInt64, line: [vigil_policy_boundary], values: [vigil_policy_value],
    endpointPolicies: [(index: UInt32, value: vigil_endpoint_policy)], counterCount: Int,
    beforeFlip: () -> Bool = { true }
  ) throws(BPFError) -> InstallTiming {
    guard values.count <= Int(ruleCapacity), line.count <= 2 * Int(ruleCapacity),
      counterCount <= Int(counterCapacity)
    else {
      throw BPFError(
        function: "PolicyDatapath.install",
        context:
          "generation \(generation) needs \(values.count) values, \(line.count) boundaries and \(counterCount) counters; capacity is \(ruleCapacity), \(2 * ruleCapacity) and \(counterCapacity)",
        errno: E2BIG)
    }
    let size = Size(boundaries: line.count, values: values.count)
    let slotNanoseconds = try prepareSpare(holding: size)
    guard let spare else { preconditionFailure("prepareSpare leaves a spare") }
    self.spare = nil
    dirtyCounters[Int(spare.slot)] = UInt32(counterCount)
    let start = monotonicNanoseconds()
    spare.line.write(line)
    spare.values.write(values)
    try spare.endpoints.updateBatch(
      keys: endpointPolicies.map(\.index), values: endpointPolicies.map(\.value))
    let filled = monotonicNanoseconds()
    guard beforeFlip() else {
      throw BPFError(
        function: "PolicyDatapath.install",
        context: "generation \(generation) not flipped to: its preparation failed", errno: ECANCELED
      )
    }
    let waited = monotonicNanoseconds()
    try state.update(0, vigil_policy_state(slot: spare.slot, _pad: 0, generation: generation))
    let flipped = monotonicNanoseconds()
    liveSize = size
    return InstallTiming(
      slotNanoseconds: slotNanoseconds, fillNanoseconds: filled - start,
      waitNanoseconds: waited - filled, flipNanoseconds: flipped - waited, flippedAt: flipped)
  }

  /// Packet and byte counts of the active generation's first `count` counters, summed over CPUs.
  public func counterValues(count: Int) throws(BPFError) -> [vigil_policy_counter] {
    guard let active = try active() else { return [] }
    var result: [vigil_policy_counter] = []
    for counter in 0..<UInt32(min(count, Int(counterCapacity))) {
      let perCPU = try counters.perCPUValues(active.slot * counterCapacity + counter)
      result.append(
        vigil_policy_counter(
          packets: perCPU.reduce(0) { $0 + $1.packets }, bytes: perCPU.reduce(0) { $0 + $1.bytes }))
    }
    return result
  }

  /// Kernel memory in bytes, as the kernel charges it (fdinfo `memlock`).
  public struct KernelMemory: Sendable {
    /// The active generation's inner maps (address line, values, endpoint defaults).
    public var generation: UInt64
    /// Maps every generation shares: counters of all slots (per CPU), connection tracking,
    /// endpoint lookups, outer maps and state.
    public var shared: UInt64
  }

  /// The kernel memory of the datapath's maps.
  public func kernelMemory() throws(BPFError) -> KernelMemory {
    let shared =
      state.kernelMemoryBytes + linesOuter.kernelMemoryBytes + valuesOuter.kernelMemoryBytes
      + endpointsOuter.kernelMemoryBytes
      + interfaces.kernelMemoryBytes + cgroups.kernelMemoryBytes + counters.kernelMemoryBytes
      + BPFMapInfo.kernelMemoryBytes(of: try object.mapFD("vigil_pol_ct"))
      + BPFMapInfo.kernelMemoryBytes(of: try object.mapFD("vigil_pol_memo"))
    var generation: UInt64 = 0
    if let active = try active() {
      if let id = try linesOuter.lookup(active.slot) {
        generation += try BPFMap<UInt32, vigil_policy_boundary>(id: id).kernelMemoryBytes
      }
      if let id = try valuesOuter.lookup(active.slot) {
        generation += try BPFMap<UInt32, vigil_policy_value>(id: id).kernelMemoryBytes
      }
      if let id = try endpointsOuter.lookup(active.slot) {
        generation += try BPFMap<UInt32, vigil_endpoint_policy>(id: id).kernelMemoryBytes
      }
    }
    return KernelMemory(generation: generation, shared: shared)
  }

  /// Removes every pin: enforcement stops once this process's descriptors close.
  public func unpin() {
    if let pinDirectory { BPFPin.removeTree(pinDirectory) }
  }
}

/// CLOCK_MONOTONIC in nanoseconds.
func monotonicNanoseconds() -> UInt64 {
  var now = timespec()
  clock_gettime(CLOCK_MONOTONIC, &now)
  return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
}
