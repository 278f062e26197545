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

/// `value` rounded to `digits` decimals, as `%.Nf` prints it: `fixed(2.345, 1)` is `2.3`.
func fixed(_ value: Double, _ digits: Int) -> String {
  guard value.isFinite else { return "\(value)" }
  let scale = (0..<digits).reduce(1) { product, _ in product * 10 }
  let units = Int((value.magnitude * Double(scale)).rounded())
  let sign = value < 0 && units != 0 ? "-" : ""
  guard digits > 0 else { return sign + "\(units)" }
  let fraction = String(units % scale)
  return sign + "\(units / scale)." + String(repeating: "0", count: digits - fraction.count)
    + fraction
}
