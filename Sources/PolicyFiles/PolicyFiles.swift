import Glibc

/// A policy file as read from disk, not yet checked to be UTF-8.
public struct PolicyFile: Sendable {
  /// The path it was read from, as the user gave it (joined with its directory).
  public var path: String
  public var bytes: [UInt8]
}

/// A policy file or directory that cannot be read.
public struct PolicyFileError: Error, Sendable, CustomStringConvertible {
  public var path: String
  /// What is wrong, e.g. `is not a regular file`.
  public var reason: String
  public var description: String { "\(path): \(reason)" }
}

/// Reads policy files: a file, or a directory's YAML files, each of bounded size.
public enum PolicyFiles {
  /// The largest policy file read; larger ones are refused before they are read.
  public static let maxFileBytes = 4 << 20

  /// The file `path`, or the visible `*.yaml`/`*.yml` files of the directory `path` in name order
  /// (not recursing). An empty directory is an error.
  public static func read(_ path: String) throws(PolicyFileError) -> [PolicyFile] {
    var files: [PolicyFile] = []
    for file in try list(path) {
      files.append(PolicyFile(path: file, bytes: try contents(file, limit: maxFileBytes)))
    }
    return files
  }

  /// `path` itself when it is not a directory, else its visible `*.yaml`/`*.yml` files, sorted.
  static func list(_ path: String) throws(PolicyFileError) -> [String] {
    var status = stat()
    guard stat(path, &status) == 0 else { throw failure(path) }
    guard status.st_mode & S_IFMT == S_IFDIR else { return [path] }
    guard let directory = opendir(path) else { throw failure(path) }
    defer { closedir(directory) }
    var files: [String] = []
    while let entry = readdir(directory) {
      let name = withUnsafeBytes(of: entry.pointee.d_name) {
        String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
      }
      if !name.hasPrefix("."), name.hasSuffix(".yaml") || name.hasSuffix(".yml") {
        files.append(path.hasSuffix("/") ? path + name : "\(path)/\(name)")
      }
    }
    guard !files.isEmpty else {
      throw PolicyFileError(path: path, reason: "contains no .yaml or .yml policy files")
    }
    return files.sorted()
  }

  /// The bytes of the regular file `path`, refusing files over `limit` bytes without reading
  /// them (and files that grow past it while read).
  static func contents(_ path: String, limit: Int) throws(PolicyFileError) -> [UInt8] {
    let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
    guard descriptor >= 0 else { throw failure(path) }
    defer { close(descriptor) }
    var status = stat()
    guard fstat(descriptor, &status) == 0 else { throw failure(path) }
    guard status.st_mode & S_IFMT == S_IFREG else {
      throw PolicyFileError(path: path, reason: "is not a regular file")
    }
    if status.st_size > limit { throw tooLarge(path, size: Int(status.st_size), limit: limit) }
    // Read straight into a buffer of the file's size (plus one byte, to see it end).
    var bytes = [UInt8](repeating: 0, count: Int(status.st_size) + 1)
    var filled = 0
    while filled <= limit {
      if filled == bytes.count { bytes += repeatElement(0, count: 64 << 10) }
      let count = bytes.withUnsafeMutableBytes {
        Glibc.read(descriptor, $0.baseAddress! + filled, $0.count - filled)
      }
      if count == 0 { break }
      if count < 0 {
        if errno == EINTR { continue }
        throw failure(path)
      }
      filled += count
    }
    if filled > limit { throw tooLarge(path, size: nil, limit: limit) }
    bytes.removeLast(bytes.count - filled)
    return bytes
  }

  /// `size` is nil when the file grew past the limit while being read.
  private static func tooLarge(_ path: String, size: Int?, limit: Int) -> PolicyFileError {
    let size = size.map { "is \(mebibytes($0))" } ?? "is larger than \(mebibytes(limit))"
    return PolicyFileError(
      path: path, reason: "\(size); policy files are limited to \(mebibytes(limit))")
  }

  private static func mebibytes(_ bytes: Int) -> String {
    let tenths = ((bytes & ((1 << 20) - 1)) * 10) >> 20
    return "\(bytes >> 20).\(tenths) MiB"
  }

  private static func failure(_ path: String) -> PolicyFileError {
    PolicyFileError(path: path, reason: "cannot read: \(String(cString: strerror(errno)))")
  }
}
