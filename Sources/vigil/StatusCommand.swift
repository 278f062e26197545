import ArgumentParser
import ControlAPI

/// `vigil status`: the daemon's health at a glance.
struct StatusCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "status",
    abstract: "Show the daemon's version, probes, targets and event counters.")

  @OptionGroup var socket: SocketOptions

  @Flag(help: "Print the daemon's JSON answer.")
  var json = false

  func run() throws {
    if json {
      print(String(decoding: try socket.client.getRaw(APIPath.status), as: UTF8.self))
      return
    }
    let status = try socket.client.get(StatusResponse.self, APIPath.status)
    let probes = status.probes
    let counters = status.events
    print("vigild \(status.version), pid \(status.pid), up \(Self.uptime(status.uptimeSeconds))")
    print(
      "probes:  \(probes.attached ? "attached" : "not attached")"
        + "\(probes.adopted ? " (re-adopted pinned programs)" : ""), pinned at \(probes.pinPath)")
    if !probes.programs.isEmpty {
      print("         programs: \(probes.programs.joined(separator: ", "))")
    }
    print("targets: \(status.targets)")
    print("events:  \(counters.received) received, \(counters.emitted) emitted")
    print(
      "lost:    \(counters.lostRingBuffer) in ring buffer, \(counters.lostQueue) in queues, "
        + "\(counters.lostSubscribers) by slow subscribers")
  }

  /// `2d 3h 4m`, `3h 2m 5s`, `4m 10s` or `12s`.
  static func uptime(_ seconds: Double) -> String {
    let total = Int(max(0, seconds))
    let (days, hours, minutes, secs) = (
      total / 86_400, total / 3600 % 24, total / 60 % 60, total % 60
    )
    if days > 0 { return "\(days)d \(hours)h \(minutes)m" }
    if hours > 0 { return "\(hours)h \(minutes)m \(secs)s" }
    return minutes > 0 ? "\(minutes)m \(secs)s" : "\(secs)s"
  }
}
