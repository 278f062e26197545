import ControlAPI
import Foundation
import Testing

@testable import Agent
@testable import AgentConfig

@Suite struct PolicyAndGoroutineSettingsTests {
  private func parse(_ yaml: String) throws -> AgentConfiguration {
    try AgentConfiguration.parse(yaml: yaml, source: "vigild.yaml")
      .validated(source: "vigild.yaml", cgroupMount: nil)
  }

  @Test func readsPolicyAndGoroutineSections() throws {
    let configuration = try parse(
      """
      policy:
        stateDirectory: /srv/vigil/policy
        capacity: {entries: 1000, counters: 200000, endpoints: 8, flows: 4096}
      goroutines:
        discover: false
        interval: 2s
        parkedThreshold: 30s
        growthWindow: 120s
        maxProcesses: 4
      """)
    #expect(
      configuration.policy
        == PolicySettings(
          stateDirectory: "/srv/vigil/policy", maxEntries: 1000, maxCounters: 200_000,
          maxEndpoints: 8, maxFlows: 4096))
    #expect(
      configuration.goroutines
        == GoroutineSettings(
          discover: false, interval: 2_000_000_000, parkedThreshold: 30_000_000_000,
          growthWindow: 120_000_000_000, maxProcesses: 4))
  }

  @Test(arguments: [
    ("policy: {stateDirectory: relative}", "policy.stateDirectory"),
    ("policy: {capacity: {counters: 0}}", "policy.capacity.counters"),
    ("policy: {capacity: {counters: 4194305}}", "policy.capacity.counters"),
    ("policy: {capacity: {endpoints: 2000}}", "policy.capacity.endpoints"),
    ("policy: {capacity: {flows: 100}}", "policy.capacity.flows"),
    ("policy: {capacity: {rules: 5}}", "policy.capacity.rules"),
    ("goroutines: {interval: 10ms}", "goroutines.interval"),
    ("goroutines: {interval: 10s, growthWindow: 5s}", "goroutines.growthWindow"),
    ("goroutines: {discover: maybe}", "goroutines.discover"),
    ("goroutines: {maxProcesses: 0}", "goroutines.maxProcesses"),
  ])
  func badValuesNameTheirField(yaml: String, field: String) {
    #expect(throws: ConfigError.self) { try parse(yaml) }
    do { _ = try parse(yaml) } catch let error as ConfigError {
      #expect(error.field == field, "\(error)")
    } catch { Issue.record("\(error)") }
  }

  @Test func overrideSetsThePolicyStateDirectory() throws {
    var configuration = AgentConfiguration()
    configuration.apply(overrides: ConfigOverrides(policyStateDirectory: "/tmp/p"))
    #expect(configuration.policy.stateDirectory == "/tmp/p")
  }
}

@Suite struct ThreadStatesTests {
  @Test func summarizesThisProcess() throws {
    let summary = try #require(ThreadStates.summary(pid: getpid()))
    #expect(summary.total >= 1 && summary.total == summary.byState.values.reduce(0, +))
    #expect(ThreadStates.summary(pid: Int32.max) == nil)
    #expect(ThreadStates.startTime(pid: getpid()) > 0)
  }
}

@Suite struct PolicyStoreTests {
  private func temporaryDirectory() throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent(
      "vigil-store-\(UUID().uuidString.prefix(8))"
    ).path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
  }

  private func record(_ generation: UInt64) -> StoredGeneration {
    StoredGeneration(
      generation: generation, appliedAt: "2026-11-27T00:00:00Z", origin: "apply",
      sources: [PolicySource(source: "web.yaml", yaml: "# \(generation)\n")],
      endpoints: [StoredEndpoint(endpoint: .interface(name: "eth0", netns: "web"), id: 3)])
  }

  private func save(_ record: StoredGeneration, in store: PolicyStore) throws {
    let tentative = try store.begin(record.generation, sources: record.sources)
    try tentative.prepare(record)
    try tentative.commit()
    try tentative.persist()
  }

  @Test func savesLoadsAndKeepsTheNewest() throws {
    let directory = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let store = PolicyStore(directory: directory, keep: 3)
    #expect(store.current() == nil)
    #expect(try store.load(1) == nil)
    for generation in 1...5 as ClosedRange<UInt64> { try save(record(generation), in: store) }
    try store.setCurrent(5)
    #expect(try store.generations() == [3, 4, 5])
    #expect(
      try FileManager.default.contentsOfDirectory(atPath: "\(directory)/generations").sorted()
        == ["3.json", "3.yaml", "4.json", "4.yaml", "5.json", "5.yaml"])
    #expect(try store.load(4) == record(4))
    #expect(store.current() == 5)
    #expect(!FileManager.default.fileExists(atPath: "\(directory)/current.tmp"))
  }

  /// A rejected request's generation: its sources and record were written, then discarded.
  @Test func discardedGenerationLeavesNothing() throws {
    let directory = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let store = PolicyStore(directory: directory)
    try save(record(1), in: store)
    let tentative = try store.begin(2, sources: record(2).sources)
    try tentative.prepare(record(2))
    #expect(try store.generations() == [1])
    tentative.discard()
    #expect(try store.generations() == [1])
    #expect(
      try FileManager.default.contentsOfDirectory(atPath: "\(directory)/generations").sorted()
        == ["1.json", "1.yaml"])
  }

  /// Texts are stored as they are, apart from the record: every byte comes back.
  @Test func storesTextsAsTheyAre() throws {
    let directory = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let store = PolicyStore(directory: directory)
    let texts = [
      "", "a: \"b\"\n\tc: 'd\\e'\r\n", "größe → 🙂", "\u{0}\u{1}\u{7f}",
      String(repeating: "- {cidr: 10.0.0.0/8}\n", count: 500),
    ]
    var stored = record(1)
    stored.sources = texts.enumerated().map {
      PolicySource(source: "\($0.offset).yaml", yaml: $0.element)
    }
    try save(stored, in: store)
    #expect(try store.load(1) == stored)
    let onDisk = try String(contentsOfFile: "\(directory)/generations/1.yaml", encoding: .utf8)
    #expect(onDisk == texts.joined())
  }

  /// Generations stored by earlier versions hold their texts in the record.
  @Test func readsRecordsHoldingTheirTexts() throws {
    let directory = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    try FileManager.default.createDirectory(
      atPath: "\(directory)/generations", withIntermediateDirectories: true)
    // Such a record is the generation as JSON.
    try Data(try WireJSON.encode(record(1))).write(
      to: URL(fileURLWithPath: "\(directory)/generations/1.json"))
    #expect(try PolicyStore(directory: directory).load(1) == record(1))
  }

  @Test func missingOrShortTextsNameTheFile() throws {
    let directory = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let store = PolicyStore(directory: directory)
    try save(record(1), in: store)
    try "# ".write(toFile: "\(directory)/generations/1.yaml", atomically: true, encoding: .utf8)
    #expect(
      performing: { try store.load(1) },
      throws: { "\($0)".contains("generations/1.json") && "\($0)".contains("shorter") })
    try FileManager.default.removeItem(atPath: "\(directory)/generations/1.yaml")
    #expect(
      performing: { try store.load(1) },
      throws: { "\($0)".contains("generations/1.yaml is missing") })
  }

  @Test func unreadableGenerationNamesTheFile() throws {
    let directory = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let store = PolicyStore(directory: directory)
    try save(record(1), in: store)
    try "{not json".write(
      toFile: "\(directory)/generations/1.json", atomically: true, encoding: .utf8)
    #expect(throws: AgentError.self) { try store.load(1) }
    do { _ = try store.load(1) } catch {
      #expect("\(error)".contains("generations/1.json"))
    }
  }
}
