import Foundation
import GoProcess
import GoroutineModel
import Probes
import Testing

@testable import Agent

// Trace sessions on real Go processes: the channel ping-pong (Fixtures/gopingpong) built by
// every installed toolchain, normal and stripped. Needs root (uprobes, process_vm_readv).

private let canTrace = getuid() == 0 && !GoToolchain.all.isEmpty

/// Runs the ping-pong `binary` with `arguments` until `body` returns, then kills it.
private func withPingPong<T>(
  _ binary: String, _ arguments: [String], _ body: (Int32) async throws -> T
) async throws -> T {
  let target = Process()
  target.executableURL = URL(fileURLWithPath: binary)
  target.arguments = arguments + ["-duration", "20s"]
  target.standardOutput = FileHandle.nullDevice
  try target.run()
  defer {
    target.terminate()
    target.waitUntilExit()
  }
  try await Task.sleep(for: .milliseconds(300))
  return try await body(target.processIdentifier)
}

/// Every status change of `inspector`'s process for `seconds` (at most `maxChanges`), named.
private func trace(_ inspector: GoProcessInspector, seconds: Double, maxChanges: Int) throws
  -> [ObservedStatusChange]
{
  let session = try GoStatusTrace(
    pid: inspector.pid, fileOffset: try inspector.casgstatusFileOffset(),
    goidOffset: inspector.goidOffset, waitReasonOffset: inspector.waitReasonOffset,
    maxChanges: maxChanges)
  return try session.record(seconds: seconds).changes.map(inspector.named)
}

@Suite(
  .enabled(if: canTrace, "needs root (uprobes) and a Go toolchain"), .serialized)
struct GoStatusTraceTests {
  /// The uprobe on runtime.casgstatus sees the pinger and ponger goroutines (and only live
  /// goroutines of the process) park on their channels and wake, by Go's register ABI in every
  /// supported version; the parked ones never change.
  @Test(arguments: GoToolchain.all)
  func seesThePingPongGoroutinesParkAndWake(_ toolchain: GoToolchain) async throws {
    let builds = try await GoFixtureBuilds.gopingpong.build(toolchain)
    for binary in [builds.normal, builds.stripped] {
      try await withPingPong(binary, ["-park", "50"]) { pid in
        let inspector = try GoProcessInspector(pid: pid)
        // The players run through wrappers in newer Go (main.main.gowrap1), and one of them may
        // be running (no saved stack): they are the other goroutines main.main started, once
        // all 50 others have parked (on a loaded machine that can take a moment).
        var (parked, players) = (Set<Int64>(), Set<Int64>())
        for _ in 0..<30 where parked.count != 50 || players.count != 2 {
          let snapshot = try inspector.snapshot()
          parked = Set(
            snapshot.goroutines.filter { $0.stack.contains { $0.function == "main.parked" } }
              .map(\.goid))
          players = Set(
            snapshot.goroutines.filter {
              $0.creation.function == "main.main" && !parked.contains($0.goid)
            }.map(\.goid))
          try await Task.sleep(for: .milliseconds(100))
        }
        #expect(players.count == 2 && parked.count == 50)

        let changes = try trace(inspector, seconds: 0.3, maxChanges: 20_000)
        let byPlayers = changes.filter { players.contains($0.goid) }
        #expect(byPlayers.count > 100, "\(binary): \(changes.count) changes, none of the players?")
        let parks = Set(byPlayers.filter { $0.from.status == .running }.map(\.to.description))
        #expect(parks.isSubset(of: ["waiting(chan send)", "waiting(chan receive)", "runnable"]))
        // Which side parks depends on timing; at least one does, on its channel.
        #expect(
          parks.contains("waiting(chan receive)") || parks.contains("waiting(chan send)"),
          "\(binary): parks \(parks)")
        #expect(byPlayers.contains { $0.from.status == .waiting && $0.to.status == .runnable })
        #expect(!changes.contains { parked.contains($0.goid) }, "a parked goroutine changed")
      }
    }
  }

  /// The session's changes move the tracker: the players' transitions are counted and their
  /// state is the last one seen.
  @Test func changesMoveTheTrackedStateMachines() async throws {
    let toolchain = try #require(GoToolchain.all.last)
    let binary = try await GoFixtureBuilds.gopingpong.build(toolchain).normal
    try await withPingPong(binary, []) { pid in
      let inspector = try GoProcessInspector(pid: pid)
      var tracker = GoroutineTracker(pid: pid)
      try tracker.update(with: try inspector.snapshot())
      let changes = try trace(inspector, seconds: 0.2, maxChanges: 5_000)
      let applied = tracker.apply(changes)
      let player = try #require(
        tracker.goroutines.values.first { $0.goroutine.creation.function == "main.main" })
      let last = try #require(changes.last { $0.goid == player.goroutine.goid })
      #expect(player.state == last.to)
      #expect(player.transitions >= changes.filter { $0.goid == player.goroutine.goid }.count)
      #expect(applied.count <= changes.count && applied.count > 0)
    }
  }
}
