import AgentConfig
import BPFCore
import CVigilABI
import ControlAPI
import ControlHTTP
import Foundation
import Logging
import Probes
import ServiceLifecycle
import Symbolization

/// The daemon: probes, targets, the event pipeline and the control socket, as one service.
///
/// `start` does everything that can fail (so a bad node fails fast with a clear
/// error); `run` waits for graceful shutdown, then stops the parts in reverse.
public final class VigilAgent: Service, Sendable {
  public static let version = "0.1.0"

  private let configuration: AgentConfiguration
  private let logger: Logger
  private let startedAt = Date()
  private let probes: BlockingProbes
  private let registry: TargetRegistry
  private let pipeline: EventPipeline
  private let hub: EventHub
  private let server: HTTPServer
  /// Serves only `GET /metrics` on `metrics.listen`, if set.
  private let metricsServer: HTTPServer?
  private let rescanInterval: TimeInterval
  private let policy: PolicyService
  private let goroutines: GoroutineWatcher

  /// Loads (or re-adopts) the probes, applies settings and targets, and starts
  /// consuming events and serving the control socket.
  public init(configuration: AgentConfiguration, logger: Logger, rescanInterval: TimeInterval = 5)
    throws
  {
    self.configuration = configuration
    self.logger = logger
    self.rescanInterval = rescanInterval
    LibBPFLog.route(to: logger)
    if geteuid() == 0 && !BPFSystem.isMounted("/sys/fs/bpf", magic: BPFSystem.bpffsMagic) {
      try BPFSystem.mountFilesystemsIfMissing()
    }
    if let reason = BPFSystem.unavailableReason(pinPath: configuration.bpf.pinPath) {
      throw AgentError(reason)
    }

    let blocking = configuration.blocking
    let settings = ProbeSettings(
      offcpuThresholdNanoseconds: blocking.offcpuThreshold,
      futexThresholdNanoseconds: blocking.futexThreshold,
      wakeupBytes: configuration.bpf.wakeupBatchBytes,
      reportInterruptible: blocking.states.contains(.interruptible),
      reportUninterruptible: blocking.states.contains(.uninterruptible),
      stackDepth: UInt32(blocking.stackDepth))
    probes = try BlockingProbes(
      pinRoot: configuration.bpf.pinPath,
      ringBufferBytes: UInt32(configuration.bpf.ringBufferBytes),
      logger: logger)
    try probes.apply(settings)
    // Targets of a previous run are not known to this one: start from the configured set.
    try probes.clearTargets()
    logger.info(
      probes.adopted ? "re-adopted pinned probes" : "attached probes",
      metadata: [
        "bpf.pin": "\(probes.pinDirectory)", "bpf.programs": "\(probes.programs.map(\.name))",
      ])

    policy = try PolicyService(
      pinDirectory: "\(configuration.bpf.pinPath)/policy-v\(VIGIL_ABI_VERSION)",
      settings: configuration.policy, logger: logger)
    Self.removeOlderABIPins(under: configuration.bpf.pinPath, logger: logger)

    registry = TargetRegistry(
      kernel: ProbeTargetSet(probes: probes, settings: settings), logger: logger)
    for spec in configuration.targets {
      do { try registry.add(spec, source: .config) } catch {
        logger.warning(
          "configured target not watched",
          metadata: ["target.spec": "\(spec)", "error": "\(error)"])
      }
    }

    hub = EventHub()
    let output: EventOutput =
      switch configuration.output.events {
      case .stdout: .standardOutput()
      case .discard: .none()
      case .file(let path): try EventOutput.file(path)
      }
    let probes = self.probes
    let goroutines = GoroutineWatcher(
      settings: configuration.goroutines, output: output, logger: logger,
      kernel: GoroutineWatcher.KernelHooks(
        watching: { inspector in
          try? probes.describeGoProcess(
            inspector.pid, gThreadPointerOffset: inspector.gThreadPointerOffset,
            goidOffset: inspector.goidOffset)
        },
        forgetting: { pid in try? probes.forgetGoProcess(pid) }))
    self.goroutines = goroutines
    pipeline = EventPipeline(
      probes: probes, registry: registry,
      symbolizer: Symbolizer(
        maxFiles: configuration.symbolization.cacheFiles,
        maxProcesses: configuration.symbolization.cacheProcesses),
      hub: hub, output: output, logger: logger)

    let routesBox = RoutesBox()
    server = HTTPServer(
      .unix(
        path: configuration.socket.path, mode: mode_t(configuration.socket.mode),
        groupName: configuration.socket.group),
      // Policy requests carry whole policy sets (files of up to 4 MiB each).
      maxBodyBytes: 16 << 20
    ) { request in routesBox.routes!.handle(request) }
    metricsServer = try configuration.metrics.listen.map { listen in
      HTTPServer(try ListenAddress(hostPort: listen)) { request in
        guard request.method == "GET", request.path == APIPath.metrics else {
          return .full(
            status: 404, contentType: "text/plain",
            body: Array("only GET /metrics is served here\n".utf8))
        }
        return routesBox.routes!.handle(request)
      }
    }
    routesBox.routes = ControlRoutes(
      registry: registry, hub: hub, status: { [unowned self] in status() },
      metrics: { [unowned self] in metrics() }, socketGroup: { [server] in server.socketGroup },
      policy: policy, goroutines: goroutines)

    try pipeline.start()
    goroutines.start()
    try server.start()
    if let metricsServer {
      try metricsServer.start()
      logger.info("serving metrics", metadata: ["metrics.listen": "\(metricsServer.address)"])
    }
    logger.info("vigild ready", metadata: ["socket": "\(configuration.socket.path)"])
  }

  /// Removes what an older vigild (another ABI version) pinned, once this one has attached its
  /// own programs: its links would otherwise keep running beside the new ones.
  static func removeOlderABIPins(under pinPath: String, logger: Logger) {
    for version in 1..<VIGIL_ABI_VERSION {
      for name in ["blocking-v\(version)", "policy-v\(version)"]
      where BPFPin.exists("\(pinPath)/\(name)") {
        BPFPin.removeTree("\(pinPath)/\(name)")
        logger.notice(
          "removed pins of an older vigild", metadata: ["bpf.pin": "\(pinPath)/\(name)"])
      }
    }
  }

  /// Serves until graceful shutdown (SIGTERM/SIGINT), rescanning targets meanwhile.
  public func run() async throws {
    await withGracefulShutdownHandler {
      while !Task.isShuttingDownGracefully {
        try? await Task.sleep(for: .seconds(rescanInterval))
        if Task.isShuttingDownGracefully { break }
        registry.rescan()
        policy.maintain()
      }
    } onGracefulShutdown: {
    }
    shutdown()
  }

  /// Stops serving and consuming. The probes stay pinned: enforcement of
  /// nothing is lost and a restarted vigild re-adopts them.
  public func shutdown() {
    logger.info("vigild stopping")
    server.stop()
    metricsServer?.stop()
    hub.closeAll()
    goroutines.stop()
    pipeline.stop()
  }

  /// The status the API reports.
  public func status() -> StatusResponse { status(counters: (try? probes.readCounters()) ?? .zero) }

  /// The status, given the probes' counters already read.
  private func status(counters: ProbeCounters) -> StatusResponse {
    let pipelineCounters = pipeline.snapshot
    return StatusResponse(
      version: Self.version, pid: getpid(), uptimeSeconds: Date().timeIntervalSince(startedAt),
      probes: ProbeStatus(
        attached: true, adopted: probes.adopted, pinPath: probes.pinDirectory,
        programs: probes.programs.map(\.name)),
      targets: registry.targets.count,
      events: EventCounters(
        received: pipelineCounters.received, emitted: pipelineCounters.emitted,
        lostRingBuffer: counters.lostRingBuffer, lostQueue: pipeline.lostQueue,
        lostSubscribers: hub.lostSubscribers))
  }

  /// The Prometheus exposition.
  public func metrics() -> String {
    let counters = (try? probes.readCounters()) ?? .zero
    let status = status(counters: counters)
    typealias Sample = MetricsRenderer.Sample
    return MetricsRenderer().render([
      Sample("vigil_up", "gauge", "1 while vigild runs.", 1),
      Sample(
        "vigil_uptime_seconds", "gauge", "Seconds since vigild started.", status.uptimeSeconds),
      Sample("vigil_targets", "gauge", "Targets being watched.", Double(status.targets)),
      Sample(
        "vigil_watched_processes", "gauge", "Processes selected by targets.",
        Double(registry.targets.reduce(0) { $0 + $1.processes.count })),
      Sample(
        "vigil_bpf_records_total", "counter", "Records the probes wrote to the ring buffer.",
        Double(counters.emitted)),
      Sample(
        "vigil_events_received_total", "counter", "Records read from the ring buffer.",
        Double(status.events.received)),
      Sample(
        "vigil_events_emitted_total", "counter",
        "Blocking events delivered (logged, and kept for the API).",
        Double(status.events.emitted)),
      Sample(
        "vigil_events_lost_ringbuf_total", "counter",
        "Records lost because the ring buffer was full.",
        Double(status.events.lostRingBuffer)),
      Sample(
        "vigil_events_lost_queue_total", "counter",
        "Events to log dropped between the ring buffer reader and the processor.",
        Double(status.events.lostQueue)),
      Sample(
        "vigil_events_lost_subscribers_total", "counter",
        "Events dropped for slow API subscribers.",
        Double(status.events.lostSubscribers)),
      Sample(
        "vigil_stack_failures_total", "counter", "Episodes whose user stack could not be read.",
        Double(counters.stackFailures)),
      Sample(
        "vigil_resume_work_failures_total", "counter",
        "Episodes whose record could not be deferred to the thread's return to user space "
          + "(off-CPU: written at its next switch-out; futex: lost).",
        Double(counters.resumeWorkFailures)),
      Sample(
        "vigil_go_processes_watched", "gauge", "Go processes whose goroutines are watched.",
        Double(goroutines.watchedCount)),
      Sample(
        "vigil_policy_generation", "gauge", "Network policy generation in force (0: none).",
        Double(policy.status().generation ?? 0)),
    ])
  }
}

/// Lets the server's handler reach routes built after the server.
private final class RoutesBox: @unchecked Sendable {
  // Unchecked: written once before the server starts, read-only afterwards.
  var routes: ControlRoutes?
}

/// A start-up failure, in words for the operator.
public struct AgentError: Error, CustomStringConvertible, Sendable {
  public var description: String
  public init(_ description: String) { self.description = description }
}
