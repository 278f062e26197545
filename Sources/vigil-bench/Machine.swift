import Foundation

/// The machine the figures were measured on.
struct Machine: Codable, Sendable {
  var cpus: Int
  var cpuModel: String
  var kernel: String
  var memoryMiB: Int

  static func current() -> Machine {
    func read(_ path: String) -> String {
      (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
    }
    let model =
      read("/proc/cpuinfo").split(separator: "\n").first { $0.hasPrefix("model name") }
      .flatMap { $0.split(separator: ":", maxSplits: 1).last }
      .map { $0.trimmingCharacters(in: .whitespaces) } ?? "unknown"
    return Machine(
      cpus: ProcessInfo.processInfo.activeProcessorCount, cpuModel: model,
      kernel: read("/proc/sys/kernel/osrelease").trimmingCharacters(in: .whitespacesAndNewlines),
      memoryMiB: Int(ProcessInfo.processInfo.physicalMemory / (1 << 20)))
  }
}
