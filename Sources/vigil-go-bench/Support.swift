import Foundation

/// The value after `name` on the command line, if any.
func option(_ name: String) -> String? {
  let arguments = CommandLine.arguments
  guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count else { return nil }
  return arguments[index + 1]
}

/// True when `name` is on the command line.
func flag(_ name: String) -> Bool { CommandLine.arguments.contains(name) }

func fail(_ message: String) -> Never {
  FileHandle.standardError.write(Data("vigil-go-bench: \(message)\n".utf8))
  exit(1)
}

/// Progress for the operator, on stderr, so that stdout holds only the tables.
func note(_ message: String) {
  FileHandle.standardError.write(Data("vigil-go-bench: \(message)\n".utf8))
}

func milliseconds(_ start: ContinuousClock.Instant) -> Double {
  seconds(ContinuousClock.now - start) * 1e3
}

func seconds(_ duration: Duration) -> Double {
  Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

/// `CLOCK_REALTIME` in nanoseconds: the clock of Go's `time.Now().UnixNano()`.
func wallNanoseconds() -> Int64 {
  var now = timespec()
  clock_gettime(CLOCK_REALTIME, &now)
  return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
}

/// The value at fraction `q` (0...1) of sorted `values`.
func quantile(_ values: [Double], _ q: Double) -> Double {
  guard !values.isEmpty else { return .nan }
  let sorted = values.sorted()
  return sorted[min(sorted.count - 1, Int(Double(sorted.count - 1) * q + 0.5))]
}

/// A markdown table, printed at once.
struct MarkdownTable {
  var header: [String]
  var rows: [[String]] = []

  init(_ header: String...) { self.header = header }

  mutating func add(_ cells: String...) { rows.append(cells) }

  func print() {
    Swift.print("| " + header.joined(separator: " | ") + " |")
    Swift.print("|" + header.map { _ in "---" }.joined(separator: "|") + "|")
    for row in rows { Swift.print("| " + row.joined(separator: " | ") + " |") }
    Swift.print("")
  }
}

func format(_ value: Double, _ digits: Int = 2) -> String {
  String(format: "%.\(digits)f", value)
}

/// A child process that is killed (SIGKILL) and reaped when stopped or when the bench exits.
final class Child {
  let process = Process()

  init(_ executable: String, _ arguments: [String], stdout: Pipe? = nil) throws {
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.standardOutput = stdout ?? FileHandle.nullDevice
    try process.run()
  }

  var pid: Int32 { process.processIdentifier }

  func stop() {
    if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    process.waitUntilExit()
  }

  deinit { stop() }
}
