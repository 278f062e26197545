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

extension StoredGeneration {
  /// The start of the record's JSON: `{"sources":[...],` with the sources (megabytes of YAML)
  /// written by `PolicyJSON`, so it can be written before the rest is known.
  static func jsonHead(sources: [PolicySource]) -> [UInt8] {
    var bytes = Array(#"{"sources":"#.utf8)
    PolicyJSON.appendSources(sources, to: &bytes)
    bytes.append(UInt8(ascii: ","))
    return bytes
  }

  /// The rest of the record's JSON after `jsonHead`: every field but the sources, then `}`.
  func jsonTail() throws -> [UInt8] {
    var bare = self
    bare.sources = []
    let json = try WireJSON.encode(bare)
    let end = Array(#","sources":[]}"#.utf8)
    guard json.count > end.count, json.suffix(end.count).elementsEqual(end) else {
      throw AgentError("unexpected JSON for a stored generation")
    }
    return json.dropFirst().dropLast(end.count) + [UInt8(ascii: "}")]
  }
}

/// An endpoint and the id the datapath knows it by.
struct StoredEndpoint: Codable, Sendable, Equatable {
  var endpoint: EndpointRef
  var id: UInt32
}

/// Applied policy generations on disk: `generations/<N>.json`, and `current` naming the one in
/// force. Files are replaced atomically (written aside, synced, renamed), so a crash leaves the
/// old file or the new one. The newest `keep` generations are kept.
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

  /// Starts storing generation `generation` before it is enforced: writes its `sources` (the
  /// bulk of the record) to a tentative file and syncs them, so that finishing it is quick.
  /// Nothing is stored until ``TentativeGeneration/finish(_:)``; `discard()` removes the file.
  func begin(_ generation: UInt64, sources: [PolicySource]) throws -> TentativeGeneration {
    try FileManager.default.createDirectory(
      atPath: generationsDirectory, withIntermediateDirectories: true,
      attributes: [.posixPermissions: 0o700])
    let tentative = try TentativeGeneration(store: self, generation: generation)
    try tentative.append(StoredGeneration.jsonHead(sources: sources))
    try tentative.sync()
    return tentative
  }

  /// Drops the oldest generations beyond `keep`.
  fileprivate func prune() throws {
    for old in try generations().dropLast(keep) {
      try? FileManager.default.removeItem(atPath: path(old))
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
    guard let data = FileManager.default.contents(atPath: path(generation)) else { return nil }
    do {
      return try WireJSON.decode(StoredGeneration.self, from: Array(data))
    } catch {
      throw AgentError("stored policy generation \(path(generation)) is unreadable: \(error)")
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
  private func write(_ bytes: [UInt8], to path: String) throws {
    let file = try DurableFile(path: path)
    try file.append(bytes)
    try file.commit()
  }
}

/// A generation being stored: `generations/<N>.json.tmp` until `finish` renames it into place.
final class TentativeGeneration: Sendable {
  let generation: UInt64
  private let store: PolicyStore
  private let file: DurableFile

  fileprivate init(store: PolicyStore, generation: UInt64) throws {
    self.store = store
    self.generation = generation
    file = try DurableFile(path: store.path(generation))
  }

  fileprivate func append(_ bytes: [UInt8]) throws { try file.append(bytes) }

  fileprivate func sync() throws { try file.sync() }

  /// Completes the record with `record`'s other fields (its sources are those given to
  /// `begin`), syncs it and renames it into place; then drops the oldest beyond `keep`.
  func finish(_ record: StoredGeneration) throws {
    precondition(record.generation == generation, "finishing another generation")
    try file.append(record.jsonTail())
    try file.commit()
    try store.prune()
  }

  /// Removes the tentative file (nothing when it was finished).
  func discard() { file.discard() }
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

  func append(_ bytes: [UInt8]) throws {
    var offset = 0
    while offset < bytes.count {
      let written = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
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
    guard rename(temporary, path) == 0 else { throw Self.failure("rename", path) }
    let parent = open((path as NSString).deletingLastPathComponent, O_RDONLY | O_DIRECTORY)
    if parent >= 0 {
      fsync(parent)
      close(parent)
    }
  }

  /// Removes the file written aside, if it was not committed.
  func discard() { unlink(temporary) }

  private static func failure(_ call: String, _ path: String) -> AgentError {
    AgentError("\(call) \(path): \(String(cString: strerror(errno)))")
  }
}
