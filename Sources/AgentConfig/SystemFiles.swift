import Foundation

/// The few file-system reads the configuration needs, with failures as nil.
enum SystemFiles {
  /// The whole file as text; nil when it cannot be read. Works for `/proc` files, which report a
  /// size of zero.
  static func read(_ path: String) -> String? {
    guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
    defer { try? handle.close() }
    do {
      // readToEnd() is nil for an empty file.
      return String(decoding: try handle.readToEnd() ?? Data(), as: UTF8.self)
    } catch {
      return nil
    }
  }

  /// The target of a symbolic link; nil when it is not one or cannot be read.
  static func readLink(_ path: String) -> String? {
    try? FileManager.default.destinationOfSymbolicLink(atPath: path)
  }

  /// Whether `path` names a directory (following symbolic links).
  static func isDirectory(_ path: String) -> Bool {
    var isDirectory: ObjCBool = false
    return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
      && isDirectory.boolValue
  }

  /// Names in a directory; empty when it cannot be listed.
  static func entries(_ path: String) -> [String] {
    (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
  }
}
