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

/// Prints `rows` (the first is the header) as left-aligned columns two spaces apart.
func printTable(_ rows: [[String]]) {
  let widths = rows[0].indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
  for row in rows {
    let cells = zip(row, widths).map { cell, width in cell.padding(toLength: width) }
    print(cells.joined(separator: "  ").trimmingTrailingSpaces)
  }
}
