import ArgumentParser
import ControlAPI
import FoundationEssentials
import Glibc

/// `vigil events`: recent blocking events, or a live stream of them.
struct EventsCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "events",
    abstract: "Show recent blocking events, or follow new ones as they happen.",
    discussion: """
      Each line shows the local time the thread blocked, the kind, pid/tid, thread name, how long \
      it was blocked, its state (or the futex outcome), the waker and the innermost three \
      stack frames. --json prints the daemon's lines unchanged (times in UTC).
      """)

  @OptionGroup var socket: SocketOptions

  @Flag(name: [.short, .long], help: "Keep streaming new events until interrupted.")
  var follow = false

  @Option(help: "Only events of this process.")
  var pid: Int32?

  @Option(help: "Only events of this kind.")
  var kind: EventKind?

  @Option(
    help: ArgumentHelp(
      "Only events that blocked at least this long, e.g. 250ms, 1.5s, 500us, 100ns.",
      valueName: "duration"),
    transform: { try DurationText.parse($0) })
  var minDuration: UInt64?

  @Option(help: "Stop after this many events.")
  var limit: Int?

  @Flag(help: "Print each event as the daemon's JSON line.")
  var json = false

  func validate() throws {
    if let pid, pid <= 0 { throw ValidationError("--pid must be positive.") }
    if let limit, limit <= 0 { throw ValidationError("--limit must be positive.") }
  }

  func run() throws {
    let query = EventQuery(
      follow: follow, pid: pid, kind: kind, minDurationNs: minDuration, limit: limit)
    var shown = 0
    try socket.client.streamLines(query.path) { line in
      guard !line.isEmpty else { return true }
      if !json, shown == 0 { print(EventLine.header) }
      print(json ? line : EventLine.render(line))
      if follow { fflush(nil) }
      shown += 1
      return limit.map { shown < $0 } ?? true
    }
    if !json, shown == 0 { print("no events") }
  }
}

extension EventKind: ExpressibleByArgument {}
