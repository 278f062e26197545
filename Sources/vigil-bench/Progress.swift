import Foundation

/// Progress lines on standard error, stamped with the time since start.
enum Progress {
  private static let start = Date()

  static func say(_ text: String) {
    let elapsed = String(format: "%6.1f", Date().timeIntervalSince(start))
    FileHandle.standardError.write(Data("[\(elapsed)s] \(text)\n".utf8))
  }
}
