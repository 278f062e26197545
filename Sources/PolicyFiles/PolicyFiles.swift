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

/// An open policy file, checked to be a regular file within the size limit; closed with the
/// handle.
public final class OpenPolicyFile {
  /// The path it was opened by, as the user gave it (joined with its directory).
  public let path: String
  /// The open file, owned by this handle.
  public let descriptor: Int32
  /// Its size when opened.
  public let size: Int

  fileprivate init(path: String, descriptor: Int32, size: Int) {
    self.path = path
    self.descriptor = descriptor
    self.size = size
  }

  deinit { close(descriptor) }
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
      files.append(PolicyFile(path: file, bytes: try contents(try open(file))))
    }
    return files
  }

  /// `path` itself when it is not a directory, else its visible `*.yaml`/`*.yml` files, sorted.
  public static func list(_ path: String) throws(PolicyFileError) -> [String] {
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

  /// The regular file `path`, opened; files over the size limit are refused without reading them.
  public static func open(_ path: String) throws(PolicyFileError) -> OpenPolicyFile {
    let descriptor = Glibc.open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
    guard descriptor >= 0 else { throw failure(path) }
    var status = stat()
    guard fstat(descriptor, &status) == 0 else {
      let error = failure(path)
      close(descriptor)
      throw error
    }
    let file = OpenPolicyFile(path: path, descriptor: descriptor, size: Int(status.st_size))
    guard status.st_mode & S_IFMT == S_IFREG else {
      throw PolicyFileError(path: path, reason: "is not a regular file")
    }
    if file.size > maxFileBytes { throw tooLarge(path, size: file.size) }
    return file
  }

  /// The bytes of `file`, refusing a file that grows past the limit while read.
  private static func contents(_ file: OpenPolicyFile) throws(PolicyFileError) -> [UInt8] {
    let limit = maxFileBytes
    // Read straight into a buffer of the file's size (plus one byte, to see it end).
    var bytes = [UInt8](repeating: 0, count: file.size + 1)
    var filled = 0
    while filled <= limit {
      if filled == bytes.count { bytes += repeatElement(0, count: 64 << 10) }
      let count = bytes.withUnsafeMutableBytes {
        Glibc.read(file.descriptor, $0.baseAddress! + filled, $0.count - filled)
      }
      if count == 0 { break }
      if count < 0 {
        if errno == EINTR { continue }
        throw failure(file.path)
      }
      filled += count
    }
    if filled > limit { throw tooLarge(file.path, size: nil) }
    bytes.removeLast(bytes.count - filled)
    return bytes
  }

  /// `size` is nil when the file grew past the limit while being read.
  private static func tooLarge(_ path: String, size: Int?) -> PolicyFileError {
    let limit = maxFileBytes
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
