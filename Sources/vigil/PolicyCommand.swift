import ArgumentParser
import ControlAPI
import ControlHTTP
import FoundationEssentials
import Glibc
import PolicyFiles

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

  /// POSTs the files to `path` as they are, one `multipart/form-data` part each: the kernel
  /// copies them to the socket, this process never reads them.
  func post<T: Decodable>(to path: String, via client: DaemonClient, answer: T.Type) throws -> T {
    let files: [OpenPolicyFile]
    do {
      files = try PolicyFiles.list(file).map { path throws(PolicyFileError) in
        try PolicyFiles.open(path)
      }
    } catch {
      throw CLIError("\(error)")
    }
    let boundary = MultipartForm.randomBoundary()
    let framing = MultipartForm.framing(
      files.map { (name: "policy", filename: $0.path) }, boundary: boundary)
    var pieces: [RequestBody.Piece] = [.bytes(framing[0])]
    for (file, after) in zip(files, framing.dropFirst()) {
      pieces += [.file(descriptor: file.descriptor, count: file.size), .bytes(after)]
    }
    return try withExtendedLifetime(files) {
      try client.post(
        path,
        body: RequestBody(
          contentType: MultipartForm.contentType(boundary: boundary), pieces: pieces),
        answer: answer)
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

  func run() throws { try Self.apply(files, socket, json: json) }

  static func apply(_ files: PolicyFileOptions, _ socket: SocketOptions, json: Bool) throws {
    let answer = try files.post(
      to: APIPath.policy, via: socket.client, answer: PolicyApplyResponse.self)
    if json { return try printJSON(answer) }
    printApplied(answer)
  }
}

/// `vigil policy apply` read without ArgumentParser when it is followed only by `-f`/`--file`,
/// `--socket` (each once, with its value next or after `=`) and `--json`. Anything else goes to
/// ArgumentParser, which reads it the same way or gives its usual error or help. Building the
/// parser by reflection takes ~1.5 ms of a ~4 ms run (`perf stat`), and `apply` is what
/// automation runs and times from CLI start to enforced.
struct PlainApply {
  private var files = PolicyFileOptions()
  private var socket = SocketOptions()
  private var json = false

  /// The command in `arguments` (without the program's name); nil when it is anything else.
  init?(_ arguments: ArraySlice<String>) {
    guard arguments.starts(with: ["policy", "apply"]) else { return nil }
    var (file, socket, json): (String?, String?, Bool) = (nil, nil, false)
    var rest = arguments.dropFirst(2)
    while let argument = rest.popFirst() {
      let (name, attached) = Self.split(argument)
      if name == "--json" && attached == nil && !json {
        json = true
        continue
      }
      guard let value = attached ?? rest.popFirst(), !value.hasPrefix("-") else { return nil }
      switch name {
      case "-f" where file == nil && attached == nil, "--file" where file == nil: file = value
      case "--socket" where socket == nil: socket = value
      default: return nil
      }
    }
    guard let file else { return nil }
    files.file = file
    self.socket.socket = socket
    self.json = json
  }

  func run() throws { try PolicyApplyCommand.apply(files, socket, json: json) }

  /// `--name=value` as its name and value; any other argument as a name.
  private static func split(_ argument: String) -> (name: Substring, value: String?) {
    guard argument.hasPrefix("--"), let equals = argument.firstIndex(of: "=") else {
      return (argument[...], nil)
    }
    return (argument[..<equals], String(argument[argument.index(after: equals)...]))
  }
}

/// Prints an apply's or a rollback's answer.
func printApplied(_ answer: PolicyApplyResponse) {
  let previous = answer.previousGeneration.map { " (was \($0))" } ?? ""
  print("generation \(answer.generation) enforced\(previous)")
  for change in answer.changes { print("  \(change)") }
  if answer.changes.isEmpty { print("  no policy changed") }
  let timing = answer.timing
  let storeWait = timing.storeWaitMs.map { ", store wait \(fixed($0, 2)) ms" } ?? ""
  print(
    "took \(fixed(timing.totalMs, 2)) ms: compile \(fixed(timing.compileMs, 2)) ms, "
      + "attach \(fixed(timing.attachMs, 2)) ms, slot \(fixed(timing.slotMs, 2)) ms, "
      + "fill \(fixed(timing.fillMs, 2)) ms\(storeWait), flip \(fixed(timing.flipUs, 1)) µs")
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
    let answer = try files.post(
      to: APIPath.policyDiff, via: socket.client, answer: PolicyDiffResponse.self)
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
    guard access(socket.path, F_OK) == 0 else { try checkWithoutDaemon() }
    let answer = try files.post(
      to: APIPath.policyValidate, via: socket.client, answer: PolicyValidateResponse.self)
    if json { return try printJSON(answer) }
    print(
      "\(answer.policies.count) policies valid: \(answer.entries)/\(answer.capacity.entries) entries, \(answer.counters)/\(answer.capacity.counters) counters, \(answer.endpoints)/\(answer.capacity.endpoints) endpoints"
    )
  }

  /// Runs `vigild --check-policy` in this process's place: the documents are checked with
  /// vigild's own reader, which the CLI does not link.
  private func checkWithoutDaemon() throws -> Never {
    let candidates =
      [Self.ownDirectory().map { $0 + "/vigild" }]
      + (getenv("PATH").map { String(cString: $0) } ?? "").split(separator: ":").map {
        "\($0)/vigild"
      }
    guard let vigild = candidates.compactMap({ $0 }).first(where: { access($0, X_OK) == 0 }) else {
      throw CLIError(
        "vigild is not reachable at \(socket.path), and no vigild executable was found (next to vigil or on PATH) to check the documents with"
      )
    }
    let note =
      "vigild not reachable at \(socket.path): checking the documents only, with \(vigild)\n"
    _ = note.withCString { write(STDERR_FILENO, $0, strlen($0)) }
    let arguments = [vigild, "--check-policy", files.file]
    var pointers = arguments.map { strdup($0) } + [nil]
    execv(vigild, &pointers)
    throw CLIError("cannot run \(vigild): \(String(cString: strerror(errno)))")
  }

  /// The directory of this executable.
  private static func ownDirectory() -> String? {
    var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
    let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    guard count > 0 else { return nil }
    let path = String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    return path.lastIndex(of: "/").map { String(path[..<$0]) }
  }
}
