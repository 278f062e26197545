import AgentConfig
import BPFCore
import CVigilABI
import ControlAPI
import Dispatch
import Foundation
import Logging
import Policy
import PolicyDatapath

/// A policy request that failed, with the HTTP status and the message for the operator.
struct PolicyServiceError: Error, CustomStringConvertible {
  var status: Int
  var response: ErrorResponse
  var description: String { response.error }

  init(_ status: Int, _ message: String, field: String? = nil) {
    self.status = status
    response = ErrorResponse(message, field: field)
  }

  /// A policy that does not validate or compile: 422, naming the file, policy and field.
  init(_ error: PolicyError) {
    self.init(422, error.description, field: error.field.isEmpty ? nil : error.field)
  }
}

/// Network policy in the daemon: validates, compiles, stores and enforces generations, one
/// request at a time.
///
/// An apply checks and compiles everything, attaches endpoints new in the generation (which
/// pass traffic untouched until the flip), stores the generation, then fills the spare slot and
/// flips to it. Any failure before the flip leaves the enforced generation as it was. After the
/// flip, endpoints the generation no longer selects are detached and the next spare slot is
/// prepared in the background.
final class PolicyService: Sendable {
  private let datapath: PolicyDatapath
  private let store: PolicyStore
  private let capacity: PolicyCapacity
  private let logger: Logger
  private let state = LockedValue(State())
  private let background = DispatchQueue(label: "vigil.policy.spare")

  private struct State: Sendable {
    var current: Enforced?
  }

  /// The generation in force, as this daemon knows it.
  private struct Enforced: Sendable {
    var record: StoredGeneration
    var documents: [PolicyDocument]
    var counters: [CounterInfo]
    /// Default verdict of each default counter, by counter index.
    var defaults: [Int: String]
    var bindings: [EndpointRef: EndpointBinding]
  }

  /// The datapath pinned under `pinDirectory`, re-adopted when pinned, and the stored
  /// generation restored when nothing was pinned (after a reboot).
  init(pinDirectory: String, settings: PolicySettings, logger: Logger) throws {
    self.logger = logger
    capacity = PolicyCapacity(
      maxEntries: settings.maxEntries, maxCounters: settings.maxCounters,
      maxEndpoints: settings.maxEndpoints)
    store = PolicyStore(directory: settings.stateDirectory)
    datapath = try PolicyDatapath(
      pinDirectory: pinDirectory, ruleCapacity: UInt32(settings.maxEntries),
      counterCapacity: UInt32(settings.maxCounters), flowCapacity: UInt32(settings.maxFlows))
    let sizes = [
      ("counters", settings.maxCounters, datapath.counterCapacity),
      ("flows", settings.maxFlows, datapath.flowCapacity),
    ]
    for (field, configured, pinned) in sizes where UInt32(configured) != pinned {
      logger.warning(
        "pinned policy maps keep their size until the pins are removed",
        metadata: ["policy.capacity.\(field)": "\(configured)", "pinned": "\(pinned)"])
    }
    try restore()
  }

  // MARK: Requests

  /// Applies `sources` as the complete set of policies.
  func apply(_ sources: [PolicySource]) throws(PolicyServiceError) -> PolicyApplyResponse {
    try serialized { state throws(PolicyServiceError) in
      try enforce(sources, origin: "apply", generation: nil, state: &state)
    }
  }

  /// Enforces stored generation `target` (default: the newest one before the current) again,
  /// as a new generation.
  func rollback(to target: UInt64?) throws(PolicyServiceError) -> PolicyApplyResponse {
    try serialized { state throws(PolicyServiceError) in
      let stored = (try? store.generations()) ?? []
      let current = state.current?.record.generation
      guard let wanted = target ?? stored.last(where: { $0 < (current ?? .max) }) else {
        throw PolicyServiceError(
          404, "no stored generation before \(current.map(String.init) ?? "none") to roll back to")
      }
      let record: StoredGeneration?
      do { record = try store.load(wanted) } catch {
        throw PolicyServiceError(500, "\(error)")
      }
      guard let record else {
        throw PolicyServiceError(
          404,
          "generation \(wanted) is not stored (stored: \(stored.map(String.init).joined(separator: ", ")))",
          field: "to")
      }
      return try enforce(
        record.sources, origin: "rollback to \(wanted)", generation: nil, state: &state)
    }
  }

  /// Checks `sources` as an apply would (documents, endpoints, capacity) without applying.
  func validate(_ sources: [PolicySource]) throws(PolicyServiceError) -> PolicyValidateResponse {
    try serialized { state throws(PolicyServiceError) in
      let documents = try parse(sources)
      let ids = try endpointIDs(for: documents, current: state.current)
      let compiled = try compile(documents, ids: ids)
      return PolicyValidateResponse(
        policies: documents.map(\.document.name).sorted(), entries: compiled.blocks.count,
        counters: compiled.counters.count, endpoints: ids.count,
        capacity: PolicyCapacityInfo(
          entries: capacity.maxEntries, counters: capacity.maxCounters,
          endpoints: capacity.maxEndpoints))
    }
  }

  /// What applying `sources` would change.
  func diff(_ sources: [PolicySource]) throws(PolicyServiceError) -> PolicyDiffResponse {
    try serialized { state throws(PolicyServiceError) in
      let documents = try parse(sources).map(\.document)
      return PolicyDiffResponse(
        generation: state.current?.record.generation,
        changes: PolicyDiff.between(old: state.current?.documents ?? [], new: documents)
          .map(\.description))
    }
  }

  /// The generation in force.
  func status() -> PolicyStatusResponse {
    let current = state.value.current
    return PolicyStatusResponse(
      generation: current?.record.generation, appliedAt: current?.record.appliedAt,
      origin: current?.record.origin,
      policies: (current?.documents ?? []).sorted { $0.name < $1.name }.map {
        PolicySummary(
          name: $0.name, endpoint: $0.endpoint.description, mode: $0.mode.rawValue,
          summary: $0.summary)
      },
      sources: current?.record.sources ?? [], storedGenerations: (try? store.generations()) ?? [])
  }

  /// The counters of the generation in force.
  func stats() throws(PolicyServiceError) -> PolicyStatsResponse {
    guard let current = state.value.current else {
      return PolicyStatsResponse(generation: nil, counters: [])
    }
    let values: [vigil_policy_counter]
    do { values = try datapath.counterValues(count: current.counters.count) } catch {
      throw PolicyServiceError(500, "reading policy counters: \(error)")
    }
    let counters = zip(current.counters.indices, current.counters).map { index, info in
      PolicyCounter(
        policy: info.policy, endpoint: info.endpoint.description, direction: info.direction.word,
        kind: info.kind.rawValue,
        rule: info.ruleIndex.map {
          "\(PolicyDocument.ruleKey(info.direction, deny: info.kind == .deny))[\($0)]"
        },
        verdict: current.defaults[index],
        packets: index < values.count ? values[index].packets : 0,
        bytes: index < values.count ? values[index].bytes : 0)
    }
    return PolicyStatsResponse(generation: current.record.generation, counters: counters)
  }

  /// Detaches interfaces that are gone and makes sure the spare slot is ready; run periodically.
  func maintain() {
    serializedQuietly { state in
      for binding in try datapath.removeDeadLinks() {
        logger.notice("policy endpoint gone; detached", metadata: ["binding": "\(binding)"])
        for (endpoint, bound) in state.current?.bindings ?? [:] where bound == binding {
          state.current?.bindings[endpoint] = nil
        }
      }
      try datapath.prepareSpare()
    }
  }

  // MARK: Enforcing

  /// Runs `body` with the state, one request at a time.
  private func serialized<T: Sendable>(
    _ body: (inout State) throws(PolicyServiceError) -> T
  ) throws(PolicyServiceError) -> T {
    do {
      return try state.withLock { state in try body(&state) }
    } catch let error as PolicyServiceError {
      throw error
    } catch {
      throw PolicyServiceError(500, "\(error)")
    }
  }

  /// Runs `body` with the state, logging instead of throwing.
  private func serializedQuietly(_ body: (inout State) throws -> Void) {
    state.withLock { state in
      do { try body(&state) } catch {
        logger.warning("policy maintenance failed", metadata: ["error": "\(error)"])
      }
    }
  }

  /// Stores and enforces `sources` as generation `wanted` (default: the next one). The sources
  /// are written and synced while they are parsed, and the record while the policy compiles and
  /// the maps fill; both are put in place just before the flip. A request that fails before
  /// the flip leaves nothing stored.
  private func enforce(
    _ sources: [PolicySource], origin: String, generation wanted: UInt64?, state: inout State
  ) throws(PolicyServiceError) -> PolicyApplyResponse {
    let start = ContinuousClock.now
    let generation = wanted ?? nextGeneration(after: state.current?.record.generation)
    let tentative = Overlapped { [store] in try store.begin(generation, sources: sources) }
    var preparing: Overlapped<TentativeGeneration>?
    do {
      let documents = try parse(sources)
      let ids = try endpointIDs(for: documents, current: state.current)
      let record = StoredGeneration(
        generation: generation, appliedAt: Self.now(), origin: origin, sources: sources,
        endpoints: ids.map { StoredEndpoint(endpoint: $0.key, id: $0.value) }.sorted {
          $0.id < $1.id
        })
      let prepared = Overlapped {
        let stored = try tentative.join()
        try stored.prepare(record)
        return stored
      }
      preparing = prepared
      return try enforce(
        documents, record: record, ids: ids, storing: prepared, start: start, state: &state)
    } catch {
      _ = try? preparing?.join()
      (try? tentative.join())?.discard()
      throw error
    }
  }

  private func enforce(
    _ documents: [LocatedDocument], record: StoredGeneration, ids: [EndpointRef: UInt32],
    storing prepared: Overlapped<TentativeGeneration>, start: ContinuousClock.Instant,
    state: inout State
  ) throws(PolicyServiceError) -> PolicyApplyResponse {
    let clock = ContinuousClock()
    let generation = record.generation
    let compiled = try compile(documents, ids: ids)
    let compiledAt = clock.now

    // Attach endpoints this generation adds; they pass traffic untouched until the flip.
    var bindings = state.current?.bindings ?? [:]
    var attachedNow: [EndpointBinding] = []
    func undoAttach() {
      for binding in attachedNow { try? datapath.detach(binding) }
    }
    for (endpoint, id) in ids.sorted(by: { $0.value < $1.value }) where bindings[endpoint] == nil {
      do {
        let attachment = try datapath.attach(Self.location(endpoint), id: id)
        bindings[endpoint] = attachment.binding
        if !attachment.adopted { attachedNow.append(attachment.binding) }
      } catch {
        undoAttach()
        throw PolicyServiceError(500, "attaching to endpoint \(endpoint): \(error)")
      }
    }
    let attachedAt = clock.now

    // The answer's diff is worked out on another thread while the maps fill; the flip waits
    // until the generation is stored.
    let (old, new) = (state.current?.documents ?? [], documents.map(\.document))
    let changes = Overlapped { PolicyDiff.between(old: old, new: new).map(\.description) }
    let timing: PolicyDatapath.InstallTiming
    var stored: TentativeGeneration?
    var saveError: String?
    do {
      timing = try datapath.install(
        generation: generation, line: compiled.lines.boundaries, values: compiled.lines.values,
        endpointPolicies: compiled.endpointPolicies, counterCount: compiled.counters.count,
        beforeFlip: {
          do {
            stored = try prepared.join()
            try stored?.commit()
          } catch { saveError = "\(error)" }
          return saveError == nil
        })
    } catch {
      undoAttach()
      throw PolicyServiceError(
        500, "installing generation \(generation): \(saveError ?? "\(error)")")
    }
    let flippedAt = clock.now
    do {
      try stored?.persist()
      try store.setCurrent(generation)
    } catch {
      logger.error("policy enforced but not recorded as current", metadata: ["error": "\(error)"])
    }

    // Endpoints no policy selects any more.
    for (endpoint, binding) in bindings where ids[endpoint] == nil {
      do { try datapath.detach(binding) } catch {
        logger.warning(
          "detaching policy endpoint failed",
          metadata: ["endpoint": "\(endpoint)", "error": "\(error)"])
      }
      bindings[endpoint] = nil
    }
    var retired = state.current
    let previousGeneration = retired?.record.generation
    state.current = Enforced(
      record: record, documents: new, counters: compiled.counters,
      defaults: Self.defaults(compiled), bindings: bindings)
    background.async { [self] in serializedQuietly { _ in try datapath.prepareSpare() } }
    // The generation replaced (megabytes of rules) is freed off the request's thread.
    background.async { [retired] in _ = retired }
    retired = nil

    let milliseconds = { (from: ContinuousClock.Instant, to: ContinuousClock.Instant) in
      Double((to - from).components.attoseconds) / 1e15 + Double((to - from).components.seconds)
        * 1e3
    }
    let response = PolicyApplyResponse(
      generation: generation, previousGeneration: previousGeneration,
      changes: (try? changes.join()) ?? [],
      timing: PolicyTiming(
        compileMs: milliseconds(start, compiledAt), attachMs: milliseconds(compiledAt, attachedAt),
        slotMs: Double(timing.slotNanoseconds) / 1e6, fillMs: Double(timing.fillNanoseconds) / 1e6,
        storeWaitMs: Double(timing.waitNanoseconds) / 1e6,
        flipUs: Double(timing.flipNanoseconds) / 1e3, totalMs: milliseconds(start, flippedAt),
        flippedAtNs: timing.flippedAt))
    logger.info(
      "policy generation enforced",
      metadata: [
        "policy.generation": "\(generation)", "policy.origin": "\(record.origin)",
        "policy.count": "\(documents.count)", "policy.entries": "\(compiled.blocks.count)",
        "policy.totalMs": "\(response.timing.totalMs)",
      ])
    return response
  }

  /// The next generation number: above every stored and enforced one.
  private func nextGeneration(after current: UInt64?) -> UInt64 {
    let stored = (try? store.generations().last) ?? nil
    let active = (try? datapath.active()?.generation) ?? nil
    return max(current ?? 0, stored ?? 0, active ?? 0) + 1
  }

  private func parse(_ sources: [PolicySource]) throws(PolicyServiceError) -> [LocatedDocument] {
    do {
      return try PolicyLoader.parse(texts: sources.map { ($0.source, $0.yaml) })
    } catch {
      throw PolicyServiceError(error)
    }
  }

  private func compile(_ documents: [LocatedDocument], ids: [EndpointRef: UInt32])
    throws(PolicyServiceError) -> CompiledPolicy
  {
    do {
      return try PolicyCompiler.compile(documents, endpointIDs: ids, capacity: capacity)
    } catch {
      throw PolicyServiceError(error)
    }
  }

  /// Checks that every endpoint exists and numbers them: endpoints already enforced keep their
  /// id; new ones take ids no enforced endpoint has (an id is reused only once the generation
  /// that dropped it is in force, so no packet is judged by another endpoint's policy).
  private func endpointIDs(for documents: [LocatedDocument], current: Enforced?)
    throws(PolicyServiceError) -> [EndpointRef: UInt32]
  {
    let enforced = Dictionary(
      (current?.record.endpoints ?? []).map { ($0.endpoint, $0.id) },
      uniquingKeysWith: { a, _ in a })
    var used = Set(enforced.values)
    var ids: [EndpointRef: UInt32] = [:]
    var next: UInt32 = 0
    for located in documents where ids[located.document.endpoint] == nil {
      let endpoint = located.document.endpoint
      if let problem = Self.missing(endpoint) {
        throw PolicyServiceError(
          located.error(field: problem.field, value: problem.value, reason: problem.reason))
      }
      if let id = enforced[endpoint] {
        ids[endpoint] = id
        continue
      }
      while used.contains(next) { next += 1 }
      ids[endpoint] = next
      used.insert(next)
    }
    return ids
  }

  /// Why `endpoint` cannot be attached to on this node, or nil when it can.
  private static func missing(_ endpoint: EndpointRef) -> (
    field: String, value: String, reason: String
  )? {
    switch endpoint {
    case .interface(let name, let netns):
      if let netns, access(NetworkNamespace.path(netns), F_OK) != 0 {
        return ("spec.endpoint.netns", netns, "is not a network namespace on this node")
      }
      do {
        _ = try NetworkNamespace.run(in: netns) { try NetworkNamespace.interfaceIndex(name) }
        return nil
      } catch {
        let place = netns.map { "network namespace \($0)" } ?? "the host network namespace"
        return ("spec.endpoint.interface", name, "is not an interface in \(place)")
      }
    case .cgroup(let path):
      var status = stat()
      guard stat(path, &status) == 0, status.st_mode & S_IFMT == S_IFDIR else {
        return ("spec.endpoint.cgroup", path, "is not a cgroup directory on this node")
      }
      return nil
    }
  }

  static func location(_ endpoint: EndpointRef) -> EndpointLocation {
    switch endpoint {
    case .interface(let name, let netns):
      .interface(name: name, netns: netns.map(NetworkNamespace.path))
    case .cgroup(let path): .cgroup(path: path)
    }
  }

  /// The verdict of each default counter.
  private static func defaults(_ compiled: CompiledPolicy) -> [Int: String] {
    var defaults: [Int: String] = [:]
    for (_, policy) in compiled.endpointPolicies {
      defaults[Int(policy.default_counter)] =
        policy.default_action == UInt8(VIGIL_ACTION_DENY.rawValue) ? "deny" : "allow"
    }
    return defaults
  }

  private static func now() -> String {
    var time = timespec()
    clock_gettime(CLOCK_REALTIME, &time)
    return RFC3339.format(seconds: Int64(time.tv_sec), fractionDigits: 0)
  }

  // MARK: Start-up

  /// Takes over what is enforced: the pinned generation (re-adopting its links), or after a
  /// reboot the generation last stored as current.
  private func restore() throws {
    let active = try datapath.active()
    try state.withLock { state in
      if let active {
        guard let record = try store.load(active.generation) else {
          logger.warning(
            "the enforced policy generation is not stored; it stays in force until the next apply",
            metadata: [
              "policy.generation": "\(active.generation)",
              "policy.stateDirectory": "\(store.directory)",
            ])
          return
        }
        try adopt(record, state: &state)
      } else if let generation = store.current(), let record = try store.load(generation) {
        do {
          _ = try enforce(
            record.sources, origin: "restore", generation: generation, state: &state)
        } catch {
          logger.error(
            "stored policy could not be restored; no policy is enforced",
            metadata: ["policy.generation": "\(generation)", "error": "\(error)"])
        }
      }
      try datapath.prepareSpare()
    }
  }

  /// Rebuilds what this daemon knows of the pinned generation `record`, re-adopting its links.
  private func adopt(_ record: StoredGeneration, state: inout State) throws {
    let documents = try PolicyLoader.parse(texts: record.sources.map { ($0.source, $0.yaml) })
    let ids = Dictionary(
      record.endpoints.map { ($0.endpoint, $0.id) }, uniquingKeysWith: { a, _ in a })
    let compiled = try PolicyCompiler.compile(documents, endpointIDs: ids, capacity: capacity)
    var bindings: [EndpointRef: EndpointBinding] = [:]
    for (endpoint, id) in ids {
      do {
        bindings[endpoint] = try datapath.attach(Self.location(endpoint), id: id).binding
      } catch {
        logger.warning(
          "policy endpoint not attached",
          metadata: ["endpoint": "\(endpoint)", "error": "\(error)"])
      }
    }
    // Links of endpoints the generation does not select (a crash between flip and detach).
    for binding in try datapath.attachedBindings() where !bindings.values.contains(binding) {
      try datapath.detach(binding)
    }
    state.current = Enforced(
      record: record, documents: documents.map(\.document), counters: compiled.counters,
      defaults: Self.defaults(compiled), bindings: bindings)
    logger.info(
      "re-adopted enforced policy",
      metadata: [
        "policy.generation": "\(record.generation)", "policy.count": "\(documents.count)",
      ])
  }
}
