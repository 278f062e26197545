import ArgumentParser
import ControlAPI
import ControlHTTP
import FoundationEssentials

/// `vigil goroutines --pid N`: a Go process's goroutines, read from outside, grouped.
struct GoroutinesCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "goroutines",
    abstract: "Show a Go process's goroutines, grouped by wait reason, creation site and frame.",
    discussion: """
      vigild reads the goroutines from the process's memory: no code change, no restart, no \
      pprof endpoint, and the process is never stopped. The process is watched from then on.
      """)

  @Option(help: "The Go process.") var pid: Int32
  @Option(help: ArgumentHelp("Also write a pprof goroutine profile here.", valueName: "file"))
  var pprof: String?
  @Option(
    help: ArgumentHelp(
      "Instead, trace every goroutine status change for this long (at most 10 s) with a uprobe "
        + "on runtime.casgstatus. Slows the process while it runs.", valueName: "seconds"))
  var trace: Double?
  @OptionGroup var socket: SocketOptions
  @Flag(help: "Print the daemon's JSON answer.") var json = false

  func run() throws {
    if let trace { return try runTrace(seconds: trace) }
    if let pprof {
      let profile = try socket.client.getRaw("\(APIPath.goroutinesPprof)?pid=\(pid)")
      guard FileManager.default.createFile(atPath: pprof, contents: Data(profile)) else {
        throw CLIError("cannot write \(pprof)")
      }
      print("wrote \(pprof) (\(profile.count) bytes): go tool pprof -top \(pprof)")
    }
    let answer = try socket.client.get(GoroutinesResponse.self, "\(APIPath.goroutines)?pid=\(pid)")
    if json { return try printJSON(answer) }
    print(
      "pid \(answer.pid) \(answer.executable) (\(answer.goVersion ?? "Go")): \(answer.total) goroutines, \(answer.threads) threads, at \(answer.takenAt)"
    )
    printTable(
      [["COUNT", "STATES", "WAIT REASON", "LONGEST PARKED", "CREATED AT", "BLOCKED IN", "LEAK"]]
        + answer.groups.map { group in
          [
            "\(group.count)",
            group.states.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }.joined(
              separator: ","),
            group.waitReason ?? "-",
            group.longestParkedSeconds.map { fixed($0, 0) + "s" } ?? "-",
            "\(group.creationFunction ?? "?") \(Self.location(group.creationFile, group.creationLine))",
            group.blockingFunction.map {
              "\($0) \(Self.location(group.blockingFile, group.blockingLine))"
            } ?? "-",
            group.leak ? "LEAK" : "",
          ]
        })
  }

  private func runTrace(seconds: Double) throws {
    let answer = try socket.client.post(
      "\(APIPath.goroutinesTrace)?pid=\(pid)&seconds=\(seconds)",
      body: RequestBody(contentType: "application/json", pieces: []),
      answer: GoroutineTraceResponse.self)
    if json { return try printJSON(answer) }
    let trace = answer.trace
    print(
      "pid \(answer.pid), traced \(fixed(answer.seconds, 1)) s: \(trace.changes) status changes of \(trace.goroutines) goroutines, \(answer.lost) lost"
    )
    printTable(
      [["CHANGES", "FROM", "TO"]] + trace.byChange.map { ["\($0.count)", $0.from, $0.to] })
    print("")
    printTable(
      [["GOROUTINE", "CHANGES", "LAST STATE"]]
        + trace.busiest.map { ["\($0.goroutine)", "\($0.changes)", $0.lastState] })
  }

  /// `file.go:42` (the file's last path component).
  static func location(_ file: String?, _ line: Int?) -> String {
    guard let file else { return "" }
    return "\(file.split(separator: "/").last.map(String.init) ?? file):\(line ?? 0)"
  }
}

/// `vigil leaks`: suspected goroutine leaks of the Go processes vigild watches.
struct LeaksCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "leaks",
    abstract: "Show goroutines parked forever in watched Go processes.",
    discussion: """
      A group (same wait reason, creation site and blocking frame) is a suspected leak when its \
      goroutines stay parked on a channel, select, sync.Cond, mutex or nil channel longer than \
      goroutines.parkedThreshold while the group keeps growing; confirmed when the Go runtime \
      itself marked them leaked.
      """)

  @Option(help: "Only this process.") var pid: Int32?
  @OptionGroup var socket: SocketOptions
  @Flag(help: "Print the daemon's JSON answer ({\"leaks\": [...]}).") var json = false

  func run() throws {
    let path = APIPath.leaks + (pid.map { "?pid=\($0)" } ?? "")
    let answer = try socket.client.get(LeaksResponse.self, path)
    if json { return try printJSON(answer) }
    guard !answer.leaks.isEmpty else {
      print("no goroutine leaks found")
      return
    }
    printTable(
      [["PID", "COUNT", "WAIT REASON", "PARKED", "CREATED AT", "BLOCKED IN", "GROWING", "THREADS"]]
        + answer.leaks.map { leak in
          [
            "\(leak.pid)", "\(leak.count)", leak.waitReason,
            fixed(leak.parkedSeconds, 0) + "s",
            "\(leak.creationFunction) \(GoroutinesCommand.location(leak.creationFile, leak.creationLine))",
            leak.blockingFunction ?? "-", leak.growing ? "yes" : "no",
            leak.threads.map { summary in
              summary.byState.sorted { $0.value > $1.value }.map { "\($0.value) \($0.key)" }
                .joined(separator: ", ")
            } ?? "-",
          ]
        })
  }
}
