import Agent
import AgentConfig
import ArgumentParser
import Foundation
import Logging
import Policy
import ServiceLifecycle

/// The Vigil node daemon.
@main
struct Vigild: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "vigild",
    abstract: "Vigil node agent: reports what target processes block on.",
    discussion: """
      Blocking events are written to standard output as JSON lines; logs go to standard error.
      With no --config, vigild runs on its embedded default configuration (see --print-default-config).
      BPF programs stay pinned under the pin path when vigild stops; a restarted vigild re-adopts them.
      """)

  @Option(name: .long, help: "YAML configuration file (default: the embedded configuration).")
  var config: String?

  @Option(name: .long, help: "Control socket path (overrides socket.path).")
  var socket: String?

  @Option(name: .long, help: "bpffs directory for pins (overrides bpf.pinPath).")
  var pinPath: String?

  @Option(
    name: .long, help: "Directory of stored network policies (overrides policy.stateDirectory).")
  var policyState: String?

  @Option(name: .long, help: "Report off-CPU episodes at least this long, e.g. 10ms.")
  var offcpuThreshold: String?

  @Option(name: .long, help: "Report futex waits at least this long, e.g. 10ms.")
  var futexThreshold: String?

  @Option(
    name: .long,
    help: "Also watch a target: pid:N, executable:NAME_OR_PATH or cgroup:PATH. Repeatable.")
  var target: [String] = []

  @Option(name: .long, help: "Where blocking events go: stdout, none, or a file path.")
  var events: String?

  @Option(
    name: .long,
    help: "Log level: trace, debug, info, notice, warning, error, critical.",
    transform: { text in
      guard let level = Logger.Level(rawValue: text) else {
        throw ValidationError(
          "--log-level: \"\(text)\" is not one of trace, debug, info, notice, warning, error, critical"
        )
      }
      return level
    })
  var logLevel: Logger.Level = .info

  @Flag(name: .long, help: "Print the embedded default configuration and exit.")
  var printDefaultConfig = false

  @Flag(name: .long, help: "Validate the configuration and exit.")
  var checkConfig = false

  @Option(
    name: .long,
    help: ArgumentHelp(
      "Check the policy documents of a file or directory (not their endpoints or capacity) and exit.",
      valueName: "file|dir"))
  var checkPolicy: String?

  @Flag(
    name: .long, help: "Remove vigild's pinned BPF programs and maps (detaching them) and exit.")
  var uninstall = false

  mutating func run() async throws {
    if printDefaultConfig {
      print(AgentConfiguration.embeddedDefault, terminator: "")
      return
    }
    if let checkPolicy {
      let documents = try Self.checkPolicies(checkPolicy)
      print("\(documents.count) policies valid (endpoints and capacity not checked)")
      return
    }
    let level = logLevel
    LoggingSystem.bootstrap { label in
      var handler = StreamLogHandler.standardError(label: label)
      handler.logLevel = level
      return handler
    }
    let logger = Logger(label: "vigild")

    let configuration: AgentConfiguration
    do {
      configuration = try loadConfiguration()
    } catch {
      throw ValidationError("\(error)")
    }
    if checkConfig {
      print("configuration OK")
      return
    }
    if uninstall {
      try Uninstaller.run(pinPath: configuration.bpf.pinPath)
      print("removed pins under \(configuration.bpf.pinPath)")
      return
    }

    let agent: VigilAgent
    do {
      agent = try VigilAgent(configuration: configuration, logger: logger)
    } catch {
      logger.critical("vigild cannot start: \(error)")
      throw ExitCode(1)
    }
    let group = ServiceGroup(
      configuration: .init(
        services: [agent], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
    try await group.run()
  }

  /// The documents under `path`; a policy error fails with its message alone (no usage text).
  private static func checkPolicies(_ path: String) throws -> [LocatedDocument] {
    struct PolicyCheckFailure: Error, CustomStringConvertible { let description: String }
    do {
      return try PolicyLoader.load(path: path)
    } catch {
      throw PolicyCheckFailure(description: "\(error)")
    }
  }

  private func loadConfiguration() throws -> AgentConfiguration {
    let source = config ?? "embedded default"
    let yaml: String
    if let config {
      do { yaml = try String(contentsOfFile: config, encoding: .utf8) } catch {
        throw ValidationError("cannot read configuration \(config): \(error.localizedDescription)")
      }
    } else {
      yaml = AgentConfiguration.embeddedDefault
    }
    var configuration = try AgentConfiguration.parse(yaml: yaml, source: source)
    configuration.apply(overrides: try overrides())
    return try configuration.validated(source: source)
  }

  private func overrides() throws -> ConfigOverrides {
    func duration(_ text: String?, _ flag: String) throws -> UInt64? {
      guard let text else { return nil }
      guard let value = Quantities.nanoseconds(text) else {
        throw ValidationError("--\(flag): \"\(text)\" is not a duration (use 10ms, 1s, 500us)")
      }
      return value
    }
    let targets = try target.map { text in
      guard let spec = TargetSpec(text) else {
        throw ValidationError("--target: \"\(text)\" is not pid:N, executable:NAME or cgroup:PATH")
      }
      return spec
    }
    let sink = try events.map { text in
      guard let sink = EventSink(text) else {
        throw ValidationError("--events: \"\(text)\" is not stdout, none or a path")
      }
      return sink
    }
    return ConfigOverrides(
      socketPath: socket, pinPath: pinPath,
      offcpuThreshold: try duration(offcpuThreshold, "offcpu-threshold"),
      futexThreshold: try duration(futexThreshold, "futex-threshold"), extraTargets: targets,
      events: sink, policyStateDirectory: policyState)
  }
}
