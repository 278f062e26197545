import BPFCore
import Foundation
import XCTest

/// Where tests find the built executables and how they decide to skip.
enum TestEnvironment {
  /// Whether this run is CI, where a missing capability fails instead of skipping.
  static var isCI: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }

  /// Skips (or in CI fails) when BPF cannot be used here.
  static func requireBPF(file: StaticString = #filePath, line: UInt = #line) throws {
    guard let reason = BPFSystem.unavailableReason(pinPath: "/sys/fs/bpf") else { return }
    if isCI {
      XCTFail("BPF is required in CI: \(reason)", file: file, line: line)
      throw XCTSkip("failed above")
    }
    throw XCTSkip(reason)
  }

  /// The directory of the built products (the test bundle sits beside them).
  static var productsDirectory: URL {
    let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? ""
    var directory = URL(fileURLWithPath: exe).deletingLastPathComponent()
    while directory.path != "/"
      && !FileManager.default.fileExists(
        atPath: directory.appendingPathComponent("vigil-workload").path)
    {
      directory.deleteLastPathComponent()
    }
    return directory
  }

  static func executable(_ name: String) -> URL { productsDirectory.appendingPathComponent(name) }

  /// A fresh pin directory for one test under /sys/fs/bpf.
  static func makePinRoot() -> String { "/sys/fs/bpf/vigil-test-\(UUID().uuidString.prefix(8))" }

  /// The open descriptors of this process and what they refer to (the listing's own
  /// directory descriptor, closed by the time it is read, is left out).
  static func openDescriptors() -> [String] {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
    return names.sorted().compactMap { name in
      guard
        let target = try? FileManager.default.destinationOfSymbolicLink(
          atPath: "/proc/self/fd/\(name)")
      else { return nil }
      return "\(name) -> \(target)"
    }
  }
}
