import ArgumentParser
import ControlAPI
import Foundation
import Policy

/// `vigil policy`: network policy enforced by vigild.
struct PolicyCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "policy",
    abstract: "Apply, inspect and roll back network policy.",
    subcommands: [
      PolicyApplyCommand.self, PolicyGetCommand.self, PolicyDiffCommand.self,
      PolicyRollbackCommand.self, PolicyStatsCommand.self, PolicyValidateCommand.self,
    ],
    defaultSubcommand: PolicyGetCommand.self
  )
}

/// `-f FILE|DIR`: the complete set of policies, read on this side so errors name the file.
struct PolicyFileOptions: ParsableArguments {
  @Option(
    name: [.customShort("f"), .long],
    help: ArgumentHelp(
      "A policy file, or a directory whose .yaml/.yml files are read in name order.",
      valueName: "file|dir"))
  var file: String

  /// The request carrying every file's text, as JSON.
  func requestJSON() throws -> [UInt8] { PolicyJSON.encode(try request()) }

  /// The request carrying every file's text.
  func request() throws -> PolicyRequest {
    do {
      return PolicyRequest(
        sources: try PolicyLoader.texts(path: file).map { PolicySource(source: $0, yaml: $1) })
    } catch {
      throw CLIError("\(error)")
    }
  }
}

/// `vigil policy apply -f FILE|DIR`.
struct PolicyApplyCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "apply",
    abstract: "Enforce these policies (all of them; policies not given are removed).",
    discussion: """
      The new generation is checked, compiled and filled beside the enforced one, then switched \
      to atomically. A policy that fails any check changes nothing.
      """)

  @OptionGroup var files: PolicyFileOptions
  @OptionGroup var socket: SocketOptions
  @Flag(help: "Print the daemon's JSON answer.") var json = false

  func run() throws {
    let answer = try socket.client.post(
      APIPath.policy, json: try files.requestJSON(), answer: PolicyApplyResponse.self)
    if json { return try printJSON(answer) }
    printApplied(answer)
  }
}

/// Prints an apply's or a rollback's answer.
func printApplied(_ answer: PolicyApplyResponse) {
  let previous = answer.previousGeneration.map { " (was \($0))" } ?? ""
  print("generation \(answer.generation) enforced\(previous)")
  for change in answer.changes { print("  \(change)") }
  if answer.changes.isEmpty { print("  no policy changed") }
  let timing = answer.timing
  let storeWait = timing.storeWaitMs.map { String(format: ", store wait %.2f ms", $0) } ?? ""
  print(
    String(
      format: "took %.2f ms: compile %.2f ms, attach %.2f ms, slot %.2f ms, fill %.2f ms",
      timing.totalMs, timing.compileMs, timing.attachMs, timing.slotMs, timing.fillMs)
      + storeWait + String(format: ", flip %.1f µs", timing.flipUs))
}

/// Prints `value` as the API's JSON.
func printJSON(_ value: some Encodable) throws {
  print(String(decoding: try WireJSON.encode(value), as: UTF8.self))
}

/// `vigil policy get`.
struct PolicyGetCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "get", abstract: "Show the enforced generation and its policies.")

  @OptionGroup var socket: SocketOptions
  @Flag(help: "Print the daemon's JSON answer.") var json = false
  @Flag(help: "Print the YAML the generation was applied from.") var yaml = false

  func run() throws {
    let status = try socket.client.get(PolicyStatusResponse.self, APIPath.policy)
    if json { return try printJSON(status) }
    if yaml {
      for source in status.sources {
        print("# \(source.source)")
        print(source.yaml)
      }
      return
    }
    guard let generation = status.generation else {
      print("no policy enforced")
      return
    }
    print(
      "generation \(generation), applied \(status.appliedAt ?? "?") (\(status.origin ?? "?"))")
    if status.policies.isEmpty {
      print("no policies (every endpoint passes traffic untouched)")
    } else {
      printTable(
        [["NAME", "ENDPOINT", "MODE", "SUMMARY"]]
          + status.policies.map { [$0.name, $0.endpoint, $0.mode, $0.summary] })
    }
    print("stored generations: \(status.storedGenerations.map(String.init).joined(separator: " "))")
  }
}

/// `vigil policy diff -f FILE|DIR`.
struct PolicyDiffCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "diff", abstract: "Show what applying these policies would change.")

  @OptionGroup var files: PolicyFileOptions
  @OptionGroup var socket: SocketOptions
  @Flag(help: "Print the daemon's JSON answer.") var json = false

  func run() throws {
    let answer = try socket.client.post(
      APIPath.policyDiff, json: try files.requestJSON(), answer: PolicyDiffResponse.self)
    if json { return try printJSON(answer) }
    let against = answer.generation.map { "generation \($0)" } ?? "no policy"
    guard !answer.changes.isEmpty else {
      print("no changes against \(against)")
      return
    }
    print("against \(against):")
    for change in answer.changes { print("  \(change)") }
  }
}

/// `vigil policy rollback [--to GENERATION]`.
struct PolicyRollbackCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "rollback",
    abstract: "Enforce a stored generation's policies again, as a new generation.")

  @Option(help: "The stored generation (default: the one before the enforced one).")
  var to: UInt64?
  @OptionGroup var socket: SocketOptions
  @Flag(help: "Print the daemon's JSON answer.") var json = false

  func run() throws {
    let answer = try socket.client.post(
      APIPath.policyRollback, PolicyRollbackRequest(to: to), answer: PolicyApplyResponse.self)
    if json { return try printJSON(answer) }
    printApplied(answer)
  }
}

/// `vigil policy stats`.
struct PolicyStatsCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "stats", abstract: "Packets and bytes per rule and per default verdict.")

  @OptionGroup var socket: SocketOptions
  @Flag(help: "Print the daemon's JSON answer.") var json = false

  func run() throws {
    let stats = try socket.client.get(PolicyStatsResponse.self, APIPath.policyStats)
    if json { return try printJSON(stats) }
    guard let generation = stats.generation else {
      print("no policy enforced")
      return
    }
    print("generation \(generation)")
    printTable(
      [["POLICY", "ENDPOINT", "DIRECTION", "RULE", "VERDICT", "PACKETS", "BYTES"]]
        + stats.counters.map { counter in
          [
            counter.policy ?? "-", counter.endpoint, counter.direction, counter.rule ?? "default",
            counter.verdict ?? counter.kind, "\(counter.packets)", "\(counter.bytes)",
          ]
        })
  }
}

/// `vigil policy validate -f FILE|DIR`.
struct PolicyValidateCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "validate",
    abstract: "Check policies without applying them.",
    discussion: """
      vigild checks the documents, that their endpoints exist on this node and that they fit \
      the configured capacity. When vigild is not reachable, only the documents are checked.
      """)

  @OptionGroup var files: PolicyFileOptions
  @OptionGroup var socket: SocketOptions
  @Flag(help: "Print the daemon's JSON answer.") var json = false

  func run() throws {
    let request = try files.request()
    guard FileManager.default.fileExists(atPath: socket.path) else {
      do {
        let documents = try PolicyLoader.parse(texts: request.sources.map { ($0.source, $0.yaml) })
        print(
          "\(documents.count) policies valid (vigild not reachable at \(socket.path): endpoints and capacity not checked)"
        )
        return
      } catch {
        throw CLIError("\(error)")
      }
    }
    let answer = try socket.client.post(
      APIPath.policyValidate, json: PolicyJSON.encode(request), answer: PolicyValidateResponse.self)
    if json { return try printJSON(answer) }
    print(
      "\(answer.policies.count) policies valid: \(answer.entries)/\(answer.capacity.entries) entries, \(answer.counters)/\(answer.capacity.counters) counters, \(answer.endpoints)/\(answer.capacity.endpoints) endpoints"
    )
  }
}
