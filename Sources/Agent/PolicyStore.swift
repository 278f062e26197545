import ControlAPI
import Foundation
import Policy

/// One applied generation of network policy as stored on disk.
struct StoredGeneration: Codable, Sendable, Equatable {
  var generation: UInt64
  /// RFC 3339.
  var appliedAt: String
  /// `apply`, `rollback to N` or `restore`.
  var origin: String
  /// The YAML it was applied from.
  var sources: [PolicySource]
  /// The endpoint ids it was compiled with.
  var endpoints: [StoredEndpoint]
}

/// An endpoint and the id the datapath knows it by.
struct StoredEndpoint: Codable, Sendable, Equatable {
  var endpoint: EndpointRef
  var id: UInt32
}

/// What `generations/<N>.json` holds: a stored generation whose sources' texts are in
/// `<N>.yaml`, one after another, each named here with its length in bytes. Records written
/// by earlier versions hold the texts themselves (`yaml`).
private struct RecordFile: Codable {
  struct Source: Codable {
    var source: String
    var bytes: Int?
    var yaml: String?
  }

  var generation: UInt64
  var appliedAt: String
  var origin: String
  var sources: [Source]
  var endpoints: [StoredEndpoint]

  /// The record of `record`, whose sources' texts are stored apart.
  init(_ record: StoredGeneration) {
    generation = record.generation
    appliedAt = record.appliedAt
    origin = record.origin
    sources = record.sources.map { Source(source: $0.source, bytes: $0.yaml.utf8.count) }
    endpoints = record.endpoints
  }

  /// The generation, its sources' texts taken from `texts` (the `.yaml` file) unless the
  /// record holds them; nil when `texts` is needed and not given.
  func generation(texts: [UInt8]?) throws -> StoredGeneration? {
    var sources: [PolicySource] = []
    var offset = 0
    for source in self.sources {
      if let yaml = source.yaml {
        sources.append(PolicySource(source: source.source, yaml: yaml))
        continue
      }
      guard let texts else { return nil }
      guard let count = source.bytes, count >= 0, offset + count <= texts.count else {
        throw AgentError("the texts are \(texts.count) bytes, shorter than the record says")
      }
      guard let yaml = String(validating: texts[offset..<offset + count], as: UTF8.self) else {
        throw AgentError("the text of \(source.source) is not UTF-8")
      }
      sources.append(PolicySource(source: source.source, yaml: yaml))
      offset += count
    }
    return StoredGeneration(
      generation: generation, appliedAt: appliedAt, origin: origin, sources: sources,
      endpoints: endpoints)
  }
}

/// Applied policy generations on disk: `generations/<N>.json` and the YAML it was applied from,
/// `generations/<N>.yaml`, and `current` naming the one in force. Files are replaced atomically
/// (written aside, synced, renamed), so a crash leaves the old file or the new one; a record is
/// put in place after its texts. The newest `keep` generations are kept.
struct PolicyStore: Sendable {
  let directory: String
  let keep: Int

  init(directory: String, keep: Int = 64) {
    self.directory = directory
    self.keep = keep
  }

  private var generationsDirectory: String { "\(directory)/generations" }
  fileprivate func path(_ generation: UInt64) -> String {
    "\(generationsDirectory)/\(generation).json"
  }
  fileprivate func textsPath(_ generation: UInt64) -> String {
    "\(generationsDirectory)/\(generation).yaml"
  }

  /// Starts storing generation `generation` before it is enforced: writes the texts of its
  /// `sources` (the bulk of it) as they are, and syncs them. Nothing is stored until
  /// ``TentativeGeneration/commit()``; `discard()` removes what was written.
  func begin(_ generation: UInt64, sources: [PolicySource]) throws -> TentativeGeneration {
    try FileManager.default.createDirectory(
      atPath: generationsDirectory, withIntermediateDirectories: true,
      attributes: [.posixPermissions: 0o700])
    let tentative = try TentativeGeneration(store: self, generation: generation)
    for source in sources {
      var yaml = source.yaml
      try yaml.withUTF8 { try tentative.append(UnsafeRawBufferPointer($0)) }
    }
    try tentative.sync()
    return tentative
  }

  /// Drops the oldest generations beyond `keep`.
  fileprivate func prune() throws {
    for old in try generations().dropLast(keep) {
      try? FileManager.default.removeItem(atPath: path(old))
      try? FileManager.default.removeItem(atPath: textsPath(old))
    }
  }

  /// Records that `generation` is in force.
  func setCurrent(_ generation: UInt64) throws {
    try write(Array("\(generation)\n".utf8), to: "\(directory)/current")
  }

  /// The generation last recorded as in force.
  func current() -> UInt64? {
    guard let text = try? String(contentsOfFile: "\(directory)/current", encoding: .utf8) else {
      return nil
    }
    return UInt64(text.trimmingCharacters(in: .whitespacesAndNewlines))
  }

  /// A stored generation, nil when it is not stored.
  func load(_ generation: UInt64) throws -> StoredGeneration? {
    let path = path(generation)
    guard let data = FileManager.default.contents(atPath: path) else { return nil }
    do {
      let record = try WireJSON.decode(RecordFile.self, from: Array(data))
      if let stored = try record.generation(texts: nil) { return stored }
      guard let texts = FileManager.default.contents(atPath: textsPath(generation)) else {
        throw AgentError("\(textsPath(generation)) is missing")
      }
      return try record.generation(texts: Array(texts))
    } catch {
      throw AgentError("stored policy generation \(path) is unreadable: \(error)")
    }
  }

  /// The stored generations, oldest first.
  func generations() throws -> [UInt64] {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: generationsDirectory)) ?? []
    return names.compactMap { name in
      name.hasSuffix(".json") ? UInt64(name.dropLast(5)) : nil
    }.sorted()
  }

  /// Writes `bytes` to `path` atomically and durably.
  fileprivate func write(_ bytes: [UInt8], to path: String) throws {
    let file = try DurableFile(path: path)
    try bytes.withUnsafeBytes { try file.append($0) }
    try file.commit()
  }
}

/// A generation being stored: its texts in `generations/<N>.yaml.tmp`, then its record in
/// `<N>.json.tmp`, until `commit` renames both into place.
final class TentativeGeneration: Sendable {
  let generation: UInt64
  private let store: PolicyStore
  private let texts: DurableFile
  private let record = LockedValue<DurableFile?>(nil)

  fileprivate init(store: PolicyStore, generation: UInt64) throws {
    self.store = store
    self.generation = generation
    texts = try DurableFile(path: store.textsPath(generation))
  }

  fileprivate func append(_ bytes: UnsafeRawBufferPointer) throws { try texts.append(bytes) }

  fileprivate func sync() throws { try texts.sync() }

  /// Writes and syncs `record`, whose sources are those given to `begin`, beside the texts.
  func prepare(_ record: StoredGeneration) throws {
    precondition(record.generation == generation, "preparing another generation")
    let file = try DurableFile(path: store.path(generation))
    self.record.withLock { $0 = file }
    try WireJSON.encode(RecordFile(record)).withUnsafeBytes { try file.append($0) }
    try file.sync()
  }

  /// Puts the prepared generation in place: the texts, then the record (a record is never
  /// without its texts). A crash keeps it; a power loss may lose it until `persist()`.
  func commit() throws {
    guard let record = record.value else { preconditionFailure("committing before prepare") }
    try texts.rename()
    try record.rename()
  }

  /// Makes the commit durable (syncs the directory), then drops the oldest generations beyond
  /// the store's `keep`.
  func persist() throws {
    try texts.syncDirectory()
    try store.prune()
  }

  /// Removes the files written aside (nothing once committed).
  func discard() {
    texts.discard()
    record.value?.discard()
  }
}

/// A file written aside (`<path>.tmp`), synced and renamed to `path`, so a crash leaves the old
/// file or the new one.
private final class DurableFile: Sendable {
  let path: String
  private let temporary: String
  private let fd: Int32

  init(path: String) throws {
    self.path = path
    temporary = path + ".tmp"
    fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
    guard fd >= 0 else { throw Self.failure("open", temporary) }
  }

  deinit { close(fd) }

  func append(_ bytes: UnsafeRawBufferPointer) throws {
    var offset = 0
    while offset < bytes.count {
      let written = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
      if written < 0 {
        if errno == EINTR { continue }
        throw Self.failure("write", temporary)
      }
      offset += written
    }
  }

  func sync() throws {
    guard fsync(fd) == 0 else { throw Self.failure("fsync", temporary) }
  }

  /// Syncs the file, renames it to `path` and syncs the directory.
  func commit() throws {
    try sync()
    try rename()
    try syncDirectory()
  }

  /// Renames the synced file to `path`.
  func rename() throws {
    guard Glibc.rename(temporary, path) == 0 else { throw Self.failure("rename", path) }
  }

  /// Syncs the directory, making a rename durable.
  func syncDirectory() throws {
    let directory = (path as NSString).deletingLastPathComponent
    let parent = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard parent >= 0 else { throw Self.failure("open", directory) }
    defer { close(parent) }
    guard fsync(parent) == 0 else { throw Self.failure("fsync", directory) }
  }

  /// Removes the file written aside, if it was not committed.
  func discard() { unlink(temporary) }

  private static func failure(_ call: String, _ path: String) -> AgentError {
    AgentError("\(call) \(path): \(String(cString: strerror(errno)))")
  }
}
