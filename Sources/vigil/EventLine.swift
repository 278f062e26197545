import ControlAPI
import FoundationEssentials
import Glibc

/// One event per line for people: time, kind, pid/tid, comm, duration, state, waker, stack.
enum EventLine {
  private static let widths = [12, 6, 15, 16, 9, 15, 24]

  static let header = columns([
    "TIME", "KIND", "PID/TID", "COMM", "DURATION", "STATE", "WAKER", "STACK",
  ])

  /// `line` decoded and laid out in columns, or as given if it is not an event.
  static func render(_ line: String) -> String {
    guard let event = try? WireJSON.decode(BlockingEventJSON.self, from: Array(line.utf8)) else {
      return line
    }
    return format(event)
  }

  static func format(_ event: BlockingEventJSON) -> String {
    let waker = event.waker.map { "\($0.pid)/\($0.tid) \($0.comm)" } ?? "-"
    let stack = event.stack.isEmpty ? "-" : event.stack.prefix(3).joined(separator: " <- ")
    return columns([
      clockTime(event.time), event.kind, "\(event.pid)/\(event.tid)", event.comm,
      DurationText.format(nanoseconds: event.durationNs),
      event.futex?.outcome ?? event.state ?? "-", waker,
      stack,
    ])
  }

  /// `HH:MM:SS.mmm` in local time, or `time` as given if it is not RFC 3339.
  static func clockTime(_ time: String) -> String {
    guard let (seconds, nanoseconds) = RFC3339.parse(time) else { return time }
    var clock = time_t(seconds)
    var fields = tm()
    localtime_r(&clock, &fields)
    func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
    let millis = Int(nanoseconds / 1_000_000)
    let millisText = String(repeating: "0", count: 3 - String(millis).count) + String(millis)
    return "\(two(fields.tm_hour)):\(two(fields.tm_min)):\(two(fields.tm_sec)).\(millisText)"
  }

  private static func columns(_ cells: [String]) -> String {
    let padded = cells.enumerated().map { index, cell in
      index < widths.count ? cell.padding(toLength: widths[index]) : cell
    }
    return padded.joined(separator: " ").trimmingTrailingSpaces
  }
}
