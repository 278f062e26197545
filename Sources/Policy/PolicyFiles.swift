import Glibc

/// The file system access the loader needs: listing a directory and bounded reads.
enum PolicyFiles {
  /// `path` itself when it is not a directory, else its visible `*.yaml`/`*.yml` files, sorted.
  static func list(_ path: String) throws(PolicyError) -> [String] {
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
      throw PolicyError(source: path, reason: "contains no .yaml or .yml policy files")
    }
    return files.sorted()
  }

  /// The UTF-8 text of the regular file `path`, refusing files over `limit` bytes without reading
  /// them (and files that grow past it while read).
  static func contents(_ path: String, limit: Int) throws(PolicyError) -> String {
    let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
    guard descriptor >= 0 else { throw failure(path) }
    defer { close(descriptor) }
    var status = stat()
    guard fstat(descriptor, &status) == 0 else { throw failure(path) }
    guard status.st_mode & S_IFMT == S_IFREG else {
      throw PolicyError(source: path, reason: "is not a regular file")
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
    guard let text = String(validating: bytes[..<filled], as: UTF8.self) else {
      throw PolicyError(source: path, reason: "is not UTF-8 text")
    }
    return text
  }

  /// `size` is nil when the file grew past the limit while being read.
  private static func tooLarge(_ path: String, size: Int?, limit: Int) -> PolicyError {
    let size = size.map { "is \(mebibytes($0))" } ?? "is larger than \(mebibytes(limit))"
    return PolicyError(
      source: path, reason: "\(size); policy files are limited to \(mebibytes(limit))")
  }

  private static func mebibytes(_ bytes: Int) -> String {
    let tenths = ((bytes & ((1 << 20) - 1)) * 10) >> 20
    return "\(bytes >> 20).\(tenths) MiB"
  }

  private static func failure(_ path: String) -> PolicyError {
    PolicyError(source: path, reason: "cannot read: \(String(cString: strerror(errno)))")
  }
}
