import Foundation

/// A benchmark failure, in words for the person running it.
struct BenchError: Error, CustomStringConvertible, Sendable {
  var description: String

  init(_ description: String) { self.description = description }

  /// A failed system call, with `errno` spelled out.
  static func system(_ what: String, errno code: Int32 = errno) -> BenchError {
    BenchError("\(what): \(String(cString: strerror(code)))")
  }
}
