import BPFCore
import CVigilABI
import Glibc
import Logging
import Synchronization
import VigilBPF

/// The off-CPU and futex probes, loaded, attached and pinned.
///
/// Programs are attached through pinned links and maps are pinned, both under
/// `<pinRoot>/blocking-v<ABI>`, so they keep running while the daemon is down.
/// Opening again re-adopts what is pinned: a link whose program is unchanged is
/// kept (never attached twice); a changed program is attached anew before the
/// old link is let go.
public final class BlockingProbes: Sendable {
  /// Map names in `bpf/lib/blocking_maps.h`. Every one is pinned: besides re-adoption, the
  /// task work in `vigil_resume` runs only while the map has a user-space reference.
  static let mapNames = [
    "vigil_events", "vigil_settings", "vigil_tgids", "vigil_cgroups", "vigil_counters",
    "vigil_tasks", "vigil_irq_depth", "vigil_resume", "vigil_go_procs", "vigil_tgt_epoch",
  ]

  /// The directory holding this probe set's pins.
  public let pinDirectory: String
  /// Program names, and whether each was re-adopted from a pin.
  public let programs: [(name: String, adopted: Bool)]
  /// True when every program was re-adopted from pins (nothing attached anew).
  public var adopted: Bool { programs.allSatisfy(\.adopted) }

  let events: OwnedFD
  let settingsMap: BPFMap<UInt32, vigil_settings>
  let processTargets: BPFMap<UInt32, vigil_target>
  let cgroupTargets: BPFMap<UInt64, vigil_target>
  let counters: BPFMap<UInt32, UInt64>
  let goProcesses: BPFMap<UInt32, vigil_go_process>
  /// `vigil_tgt_epoch`, bumped after every change of the target sets (threads cache their
  /// target until it changes); the lock also serializes the changes.
  private let targetsEpoch: Mutex<BPFMap<UInt32, UInt64>>
  private let links: [BPFLink]

  /// Loads (or re-adopts) the probes. `ringBufferBytes` must be a power of two, a multiple of the page size.
  public init(pinRoot: String, ringBufferBytes: UInt32, logger: Logger) throws(BPFError) {
    pinDirectory = "\(pinRoot)/blocking-v\(VIGIL_ABI_VERSION)"
    try BPFPin.makeDirectory(pinDirectory)

    let object: BPFObject
    do {
      object = try Self.load(
        pinDirectory: pinDirectory, ringBufferBytes: ringBufferBytes, reusePins: true)
    } catch {
      // Pinned maps of another layout or size: start over with fresh ones.
      logger.warning(
        "pinned blocking maps could not be reused; replacing them",
        metadata: ["bpf.pin": "\(pinDirectory)", "error": "\(error.description)"])
      Self.removePins(pinDirectory)
      try BPFPin.makeDirectory(pinDirectory)
      object = try Self.load(
        pinDirectory: pinDirectory, ringBufferBytes: ringBufferBytes, reusePins: false)
    }

    var programs: [(String, Bool)] = []
    var links: [BPFLink] = []
    for name in Self.attachOrder(object.programNames) {
      let (link, adopted) = try Self.attachOrAdopt(
        try object.program(name), pinDirectory: pinDirectory)
      programs.append((name, adopted))
      links.append(link)
    }
    self.programs = programs
    self.links = links
    Self.removeStaleLinks(pinDirectory, keeping: object.programNames)
    events = try BPFPin.open("\(pinDirectory)/vigil_events")
    settingsMap = try BPFMap(fd: BPFPin.open("\(pinDirectory)/vigil_settings"))
    processTargets = try BPFMap(fd: BPFPin.open("\(pinDirectory)/vigil_tgids"))
    cgroupTargets = try BPFMap(fd: BPFPin.open("\(pinDirectory)/vigil_cgroups"))
    counters = try BPFMap(fd: BPFPin.open("\(pinDirectory)/vigil_counters"))
    goProcesses = try BPFMap(fd: BPFPin.open("\(pinDirectory)/vigil_go_procs"))
    targetsEpoch = Mutex(try BPFMap(fd: BPFPin.open("\(pinDirectory)/vigil_tgt_epoch")))
  }

  /// Interrupt-exit programs attach before their entries: an exit seen without its entry is
  /// ignored (the depth never goes below zero), but an entry without its exit would leave the
  /// CPU's interrupt depth stuck above zero and hide every waker on it.
  static func attachOrder(_ names: [String]) -> [String] {
    let exits = ["vigil_irq_exit", "vigil_softirq_exit", "vigil_hrtimer_exit"]
    return names.filter { exits.contains($0) } + names.filter { !exits.contains($0) }
  }

  private static func load(pinDirectory: String, ringBufferBytes: UInt32, reusePins: Bool)
    throws(BPFError) -> BPFObject
  {
    let object = try BPFObject(bytes: EmbeddedBPF.blocking, name: "blocking.bpf.o")
    try object.setMaxEntries(map: "vigil_events", ringBufferBytes)
    if reusePins {
      for map in mapNames where BPFPin.exists("\(pinDirectory)/\(map)") {
        try object.reuseMap(map, fd: BPFPin.open("\(pinDirectory)/\(map)"))
      }
    }
    try object.load()
    for map in mapNames where !BPFPin.exists("\(pinDirectory)/\(map)") {
      try BPFPin.pin(object.mapFD(map), at: "\(pinDirectory)/\(map)")
    }
    return object
  }

  private static func attachOrAdopt(_ program: BPFProgram, pinDirectory: String) throws(BPFError)
    -> (BPFLink, Bool)
  {
    let path = "\(pinDirectory)/link_\(program.name)"
    if BPFPin.exists(path) {
      let pinned = try BPFLink(pinnedAt: path)
      let pinnedProgram = try BPFProgramInfo(id: pinned.info().programID)
      if pinnedProgram.tag == (try program.info().tag) { return (pinned, true) }
      // A different build of the program: attach the new one, then let the old link go.
      let link = try program.attach()
      BPFPin.remove(path)
      try link.pin(at: path)
      return (link, false)
    }
    let link = try program.attach()
    try link.pin(at: path)
    return (link, false)
  }

  /// Unpins links of programs this build no longer has (an upgrade that dropped a probe),
  /// which detaches them.
  private static func removeStaleLinks(_ directory: String, keeping programs: [String]) {
    let current = Set(programs.map { "link_\($0)" })
    for name in BPFPin.list(directory) where name.hasPrefix("link_") && !current.contains(name) {
      BPFPin.remove("\(directory)/\(name)")
    }
  }

  /// Removes every pin: the programs detach once the last descriptor (this process's) closes.
  public func unpin() { Self.removePins(pinDirectory) }

  static func removePins(_ directory: String) { BPFPin.removeTree(directory) }

  /// Writes the live settings.
  public func apply(_ settings: ProbeSettings) throws(BPFError) {
    try settingsMap.update(0, settings.abiValue)
  }

  /// Starts watching process `pid` (its thread group) on behalf of target `targetID`.
  public func watchProcess(_ pid: Int32, targetID: UInt32) throws(BPFError) {
    try changeTargets { () throws(BPFError) in
      try processTargets.update(
        UInt32(bitPattern: pid), vigil_target(target_id: targetID, flags: 0))
    }
  }

  /// Makes a change to the target sets, then bumps their epoch so no thread keeps a target
  /// found before it.
  private func changeTargets<T>(_ change: () throws(BPFError) -> T) throws(BPFError) -> T {
    try targetsEpoch.withLock { epochMap throws(BPFError) in
      let result = try change()
      try epochMap.update(0, (try epochMap.lookup(0) ?? 0) &+ 1)
      return result
    }
  }

  /// Stops watching process `pid`; false if it was not watched.
  @discardableResult
  public func unwatchProcess(_ pid: Int32) throws(BPFError) -> Bool {
    try changeTargets { () throws(BPFError) in try processTargets.delete(UInt32(bitPattern: pid)) }
  }

  /// The processes watched in the kernel, with their target ids.
  public func watchedProcesses() throws(BPFError) -> [Int32: UInt32] {
    var result: [Int32: UInt32] = [:]
    for pid in try processTargets.keys() {
      if let target = try processTargets.lookup(pid) {
        result[Int32(bitPattern: pid)] = target.target_id
      }
    }
    return result
  }

  /// Starts watching every process in cgroup `cgroupID` (a cgroup v2 directory's inode) and below.
  public func watchCgroup(_ cgroupID: UInt64, targetID: UInt32) throws(BPFError) {
    try changeTargets { () throws(BPFError) in
      try cgroupTargets.update(cgroupID, vigil_target(target_id: targetID, flags: 0))
    }
  }

  /// Stops watching a cgroup.
  @discardableResult
  public func unwatchCgroup(_ cgroupID: UInt64) throws(BPFError) -> Bool {
    try changeTargets { () throws(BPFError) in try cgroupTargets.delete(cgroupID) }
  }

  /// Tells the probes where Go process `pid` keeps each thread's running goroutine, so its
  /// events carry the goroutine (see `BlockingEpisode.goroutine`). The kernel forgets it when
  /// the process execs or exits.
  public func describeGoProcess(_ pid: Int32, gThreadPointerOffset: Int64, goidOffset: Int)
    throws(BPFError)
  {
    try goProcesses.update(
      UInt32(bitPattern: pid),
      vigil_go_process(g_tls_offset: gThreadPointerOffset, goid_offset: UInt64(goidOffset)))
  }

  /// Forgets what `describeGoProcess` said about `pid`.
  public func forgetGoProcess(_ pid: Int32) throws(BPFError) {
    try goProcesses.delete(UInt32(bitPattern: pid))
  }

  /// Removes every process and cgroup from the kernel's target set.
  public func clearTargets() throws(BPFError) {
    try changeTargets { () throws(BPFError) in
      for pid in try processTargets.keys() { try processTargets.delete(pid) }
      for cgroup in try cgroupTargets.keys() { try cgroupTargets.delete(cgroup) }
    }
  }

  /// The kernel-side counters, summed over CPUs.
  public func readCounters() throws(BPFError) -> ProbeCounters {
    func sum(_ counter: vigil_counter) throws(BPFError) -> UInt64 {
      try counters.perCPUValues(UInt32(counter.rawValue)).reduce(0, &+)
    }
    return ProbeCounters(
      emitted: try sum(VIGIL_COUNTER_EMITTED), lostRingBuffer: try sum(VIGIL_COUNTER_RB_LOST),
      stackFailures: try sum(VIGIL_COUNTER_STACK_FAIL),
      resumeWorkFailures: try sum(VIGIL_COUNTER_WORK_FAIL))
  }

  /// A consumer of the probes' ring buffer; `handler` gets each raw record on the polling thread.
  public func makeRingBuffer(handler: @escaping (UnsafeRawBufferPointer) -> Void) throws(BPFError)
    -> BPFRingBuffer
  {
    try BPFRingBuffer(map: events.duplicate(context: "vigil_events"), handler: handler)
  }
}
