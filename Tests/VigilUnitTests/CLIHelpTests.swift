import ControlAPI
import ControlHTTP
import Foundation
import Testing

/// Runs the built `vigil` executable, which SwiftPM puts beside the test bundle.
struct VigilCLI {
  struct Outcome {
    var status: Int32
    var output: String
    var errorOutput: String
  }

  static var executable: URL {
    URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
      .appendingPathComponent("vigil")
  }

  struct NotBuilt: Error, CustomStringConvertible {
    var description: String {
      "no vigil executable at \(VigilCLI.executable.path); run swift build first"
    }
  }

  static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> Outcome {
    guard FileManager.default.isExecutableFile(atPath: executable.path) else { throw NotBuilt() }
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    let output = Pipe()
    let errorOutput = Pipe()
    process.standardOutput = output
    process.standardError = errorOutput
    try process.run()
    let outputData = output.fileHandleForReading.readDataToEndOfFile()
    let errorData = errorOutput.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return Outcome(
      status: process.terminationStatus, output: String(decoding: outputData, as: UTF8.self),
      errorOutput: String(decoding: errorData, as: UTF8.self))
  }
}

@Suite struct CLIHelpTests {
  @Test func rootHelpListsSubcommands() throws {
    let outcome = try VigilCLI.run(["--help"])
    #expect(outcome.status == 0)
    for word in ["status", "targets", "events"] { #expect(outcome.output.contains(word)) }
  }

  @Test func eventsHelpDescribesFilters() throws {
    let help = try VigilCLI.run(["events", "--help"]).output
    for word in [
      "--min-duration", "250ms", "--follow", "--kind", "--pid", "--limit", "--json", "--socket",
    ] {
      #expect(help.contains(word), "missing \(word)")
    }
    #expect(help.contains("VIGIL_SOCKET"))
  }

  @Test func targetsHelp() throws {
    #expect(try VigilCLI.run(["targets", "--help"]).output.contains("ls"))
    let add = try VigilCLI.run(["targets", "add", "--help"]).output
    for word in ["--pid", "--exe", "--cgroup"] { #expect(add.contains(word)) }
    #expect(try VigilCLI.run(["targets", "rm", "--help"]).output.contains("<id>"))
    #expect(try VigilCLI.run(["status", "--help"]).output.contains("--json"))
  }

  @Test func badArgumentsFailBeforeConnecting() throws {
    let duration = try VigilCLI.run([
      "events", "--min-duration", "5m", "--socket", "/nonexistent.sock",
    ])
    #expect(duration.status != 0)
    #expect(duration.errorOutput.contains("unknown unit"))
    let add = try VigilCLI.run(["targets", "add", "--pid", "1", "--exe", "x"])
    #expect(add.status != 0)
    #expect(add.errorOutput.contains("exactly one"))
  }

  @Test func missingDaemonIsExplained() throws {
    let outcome = try VigilCLI.run(
      ["status"], environment: ["VIGIL_SOCKET": "/nonexistent/vigil.sock"])
    #expect(outcome.status != 0)
    #expect(outcome.errorOutput.contains("cannot connect to /nonexistent/vigil.sock"))
    #expect(outcome.errorOutput.contains("is vigild running?"))
  }
}

/// The CLI against a fake daemon; nested in the serialized socket suite (see ControlHTTPTests.swift).
extension ControlSocketTests {
  @Suite struct CLIEndToEndTests {
    static let events = [
      BlockingEventJSON(
        time: "2026-11-27T05:09:01.123456789Z", kind: "offcpu", pid: 42, tid: 43, comm: "worker",
        durationNs: 201_300_000, state: "uninterruptible",
        waker: .init(pid: 7, tid: 8, comm: "kworker/0:1"),
        stack: ["io_schedule", "folio_wait_bit", "filemap_fault", "handle_mm_fault"]),
      BlockingEventJSON(
        time: "2026-11-27T05:09:02.5Z", kind: "futex", pid: 42, tid: 44, comm: "pool",
        durationNs: 1_500,
        futex: .init(uaddr: "0x10", op: "FUTEX_WAIT_PRIVATE", outcome: "timedOut")),
    ]

    static func fakeDaemon() throws -> TestServer {
      try TestServer { request in
        switch (request.method, request.path) {
        case ("GET", APIPath.events):
          let query = try! EventQuery(query: request.query)
          let lines = events.filter(query.matches).map { try! WireJSON.encodeLine($0) }
          return .stream(status: 200, contentType: MediaType.ndjson) { writer in
            for line in lines where !writer.write(line) { return }
          }
        case ("POST", APIPath.policy):
          // The generation says how many bytes of YAML came, the change which file.
          let file = String(decoding: request.body, as: UTF8.self).contains("name: web")
          return .full(
            status: 200, contentType: MediaType.json,
            body: try! WireJSON.encode(
              PolicyApplyResponse(
                generation: UInt64(request.body.count), previousGeneration: nil,
                changes: [file ? "added \"web\"" : "no file"],
                timing: PolicyTiming(
                  compileMs: 1, attachMs: 0, slotMs: 0, fillMs: 0, flipUs: 1, totalMs: 2))))
        case ("POST", APIPath.targets):
          let pid = (try? WireJSON.decode(TargetRequest.self, from: request.body))?.pid ?? 0
          return .full(
            status: 404, contentType: MediaType.json,
            body: try! WireJSON.encode(ErrorResponse("no process with pid \(pid)", field: "pid")))
        default:
          return nil
        }
      }
    }

    @Test func eventsAreTabulated() throws {
      let daemon = try Self.fakeDaemon()
      defer { daemon.stop() }
      let outcome = try VigilCLI.run(
        ["events", "--socket", daemon.path], environment: ["TZ": "UTC"])
      #expect(outcome.status == 0, "\(outcome.errorOutput)")
      let lines = outcome.output.split(separator: "\n").map(String.init)
      #expect(lines.count == 3)
      #expect(lines.first?.hasPrefix("TIME") == true)
      #expect(
        lines[1]
          == "05:09:01.123 offcpu 42/43           worker           201.3ms   uninterruptible "
          + "7/8 kworker/0:1          io_schedule <- folio_wait_bit <- filemap_fault")
      #expect(
        lines[2].hasPrefix(
          "05:09:02.500 futex  42/44           pool             1.5µs     timedOut"))
      #expect(lines[2].split(separator: " ").suffix(2) == ["-", "-"])
    }

    @Test func eventsJSONAndLimit() throws {
      let daemon = try Self.fakeDaemon()
      defer { daemon.stop() }
      let outcome = try VigilCLI.run(
        ["events", "--json", "--limit", "1"], environment: ["VIGIL_SOCKET": daemon.path])
      #expect(outcome.status == 0, "\(outcome.errorOutput)")
      #expect(
        outcome.output == String(decoding: try WireJSON.encodeLine(Self.events[0]), as: UTF8.self))
    }

    @Test func statusSummary() throws {
      let daemon = try Self.fakeDaemon()
      defer { daemon.stop() }
      let outcome = try VigilCLI.run(["status", "--socket", daemon.path])
      #expect(outcome.status == 0, "\(outcome.errorOutput)")
      #expect(outcome.output.hasPrefix("vigild 1.2.3, pid 77, up 1h 2m 5s\n"))
      #expect(outcome.output.contains("re-adopted"))
      let json = try VigilCLI.run(["status", "--json", "--socket", daemon.path])
      #expect(
        try WireJSON.decode(StatusResponse.self, from: Array(json.output.utf8)) == TestServer.status
      )
    }

    @Test func noEventsIsSaid() throws {
      let daemon = try Self.fakeDaemon()
      defer { daemon.stop() }
      let outcome = try VigilCLI.run(["events", "--pid", "9", "--socket", daemon.path])
      #expect(outcome.status == 0, "\(outcome.errorOutput)")
      #expect(outcome.output == "no events\n")
    }

    /// `policy apply` with plain options is read without ArgumentParser; every spelling of
    /// them, and what ArgumentParser reads instead, posts the file and prints the answer.
    @Test func policyApplyReadsEverySpellingOfItsOptions() throws {
      let daemon = try Self.fakeDaemon()
      defer { daemon.stop() }
      let file = daemon.directory + "/web.yaml"
      try "metadata: {name: web}\n".write(toFile: file, atomically: true, encoding: .utf8)
      let socket = daemon.path
      let spellings: [(arguments: [String], environment: [String: String], json: Bool)] = [
        (["-f", file, "--socket", socket], [:], false),
        (["--socket", socket, "--file", file], [:], false),
        (["--file=\(file)", "--json", "--socket=\(socket)"], [:], true),
        (["-f", file], ["VIGIL_SOCKET": socket], false),
        // Read by ArgumentParser: a repeated flag, an option before the subcommand's.
        (["-f", file, "--json", "--json", "--socket", socket], [:], true),
        (["--socket", socket, "-f", file, "--socket", socket], [:], false),
      ]
      for spelling in spellings {
        let outcome = try VigilCLI.run(
          ["policy", "apply"] + spelling.arguments, environment: spelling.environment)
        #expect(outcome.status == 0, "\(spelling.arguments): \(outcome.errorOutput)")
        if spelling.json {
          let answer = try WireJSON.decode(
            PolicyApplyResponse.self, from: Array(outcome.output.utf8))
          #expect(answer.changes == ["added \"web\""], "\(spelling.arguments)")
        } else {
          #expect(outcome.output.contains("enforced\n  added \"web\"\n"), "\(spelling.arguments)")
        }
      }
      // What the plain reading leaves to ArgumentParser fails as before.
      let missing = try VigilCLI.run(["policy", "apply", "--socket", socket])
      #expect(missing.status != 0)
      #expect(missing.errorOutput.contains("Missing expected argument '--file <file|dir>'"))
      let dashed = try VigilCLI.run(["policy", "apply", "-f", "--json", "--socket", socket])
      #expect(dashed.status != 0)
      #expect(dashed.errorOutput.contains("Missing value for '-f <file|dir>'"))
      let absent = try VigilCLI.run(["policy", "apply", "-f", file + ".gone", "--socket", socket])
      #expect(absent.status != 0)
      #expect(absent.errorOutput == "Error: \(file).gone: cannot read: No such file or directory\n")
    }

    @Test func daemonErrorsArePrinted() throws {
      let daemon = try Self.fakeDaemon()
      defer { daemon.stop() }
      let outcome = try VigilCLI.run(["targets", "add", "--pid", "999999", "--socket", daemon.path])
      #expect(outcome.status != 0)
      #expect(outcome.errorOutput.contains("no process with pid 999999"))
      let removed = try VigilCLI.run(["targets", "rm", "3", "--socket", daemon.path])
      #expect(removed.status == 0)
      #expect(removed.output == "removed target 3\n")
    }
  }
}
