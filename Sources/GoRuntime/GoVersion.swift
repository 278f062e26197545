/// A Go release as named by the toolchain, e.g. `go1.22.10`, `go1.21rc2` or `go1.19.8 X:boringcrypto`.
public struct GoVersion: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
  public var major: Int
  public var minor: Int
  public var patch: Int

  public init(major: Int, minor: Int, patch: Int) {
    (self.major, self.minor, self.patch) = (major, minor, patch)
  }

  /// Parses `goMAJOR.MINOR[.PATCH]`, ignoring a pre-release suffix and anything after a space;
  /// nil for other strings (e.g. `devel ...` builds).
  public init?(_ string: String) {
    guard string.hasPrefix("go") else { return nil }
    let release = string.dropFirst(2).prefix { $0 != " " }
    var numbers: [Int] = []
    for part in release.split(separator: ".", omittingEmptySubsequences: false) {
      guard let number = Int(part.prefix { $0.isASCII && $0.isNumber }) else { return nil }
      numbers.append(number)
      // A pre-release (`rc2`, `beta1`) ends the numbers.
      if part.contains(where: { !($0.isASCII && $0.isNumber) }) { break }
    }
    guard (2...3).contains(numbers.count) else { return nil }
    self.init(major: numbers[0], minor: numbers[1], patch: numbers.count > 2 ? numbers[2] : 0)
  }

  public var description: String { "go\(major).\(minor).\(patch)" }

  public static func < (a: GoVersion, b: GoVersion) -> Bool {
    (a.major, a.minor, a.patch) < (b.major, b.minor, b.patch)
  }
}
