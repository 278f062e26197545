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
  /// The record as `WireJSON.encode` writes it, the sources (megabytes of YAML) written by
  /// `PolicyJSON`: sorted keys put them last.
  func json() throws -> [UInt8] {
    var bare = self
    bare.sources = []
    var bytes = try WireJSON.encode(bare)
    let end = Array(#""sources":[]}"#.utf8)
    guard bytes.count >= end.count, bytes.suffix(end.count).elementsEqual(end) else {
      return try WireJSON.encode(self)
    }
    bytes.removeLast(3)
    PolicyJSON.appendSources(sources, to: &bytes)
    bytes.append(UInt8(ascii: "}"))
    return bytes
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
  private func path(_ generation: UInt64) -> String { "\(generationsDirectory)/\(generation).json" }

  /// Stores `record` (before it is enforced) and drops the oldest beyond `keep`.
  func save(_ record: StoredGeneration) throws {
    try FileManager.default.createDirectory(
      atPath: generationsDirectory, withIntermediateDirectories: true,
      attributes: [.posixPermissions: 0o700])
    try write(record.json(), to: path(record.generation))
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
    let temporary = path + ".tmp"
    let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
    guard fd >= 0 else { throw failure("open", temporary) }
    defer { close(fd) }
    var offset = 0
    while offset < bytes.count {
      let written = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
      if written < 0 {
        if errno == EINTR { continue }
        throw failure("write", temporary)
      }
      offset += written
    }
    guard fsync(fd) == 0 else { throw failure("fsync", temporary) }
    guard rename(temporary, path) == 0 else { throw failure("rename", path) }
    let parent = open((path as NSString).deletingLastPathComponent, O_RDONLY | O_DIRECTORY)
    if parent >= 0 {
      fsync(parent)
      close(parent)
    }
  }

  private func failure(_ call: String, _ path: String) -> AgentError {
    AgentError("\(call) \(path): \(String(cString: strerror(errno)))")
  }
}
