import Foundation

/// The programs the benchmark runs: vigild and the workload next to vigil-bench, and offcputime.
struct Binaries: Sendable {
  var vigild: String
  var workload: String
  /// nil when the offcputime comparison is off.
  var offcputime: String?

  static let offcputimePath = "/usr/sbin/offcputime"

  /// Finds the programs; fails with what to do when one is missing.
  static func locate(offcputime wanted: Bool) throws(BenchError) -> Binaries {
    guard let own = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
    else {
      throw BenchError("cannot read /proc/self/exe")
    }
    let directory = (own as NSString).deletingLastPathComponent
    func sibling(_ name: String) throws(BenchError) -> String {
      let path = directory + "/" + name
      guard FileManager.default.isExecutableFile(atPath: path) else {
        throw BenchError("\(path) not found: build the whole package (swift build -c release)")
      }
      return path
    }
    var binaries = Binaries(vigild: try sibling("vigild"), workload: try sibling("vigil-workload"))
    if wanted {
      guard FileManager.default.isExecutableFile(atPath: offcputimePath) else {
        throw BenchError(
          "\(offcputimePath) not found: apt-get install -y libbpf-tools (make deps does), or pass --no-offcputime"
        )
      }
      binaries.offcputime = offcputimePath
    }
    return binaries
  }
}
