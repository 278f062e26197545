/// Padding for the CLI's column output.
extension String {
  /// This string padded with spaces to `width` characters (never truncated).
  func padding(toLength width: Int) -> String {
    count >= width ? self : self + String(repeating: " ", count: width - count)
  }

  /// This string without trailing spaces.
  var trimmingTrailingSpaces: String {
    var text = self
    while text.last == " " { text.removeLast() }
    return text
  }
}
