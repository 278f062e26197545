/// What Vigil knows about each supported Go minor version without DWARF, for stripped binaries.
/// The entries (`GoOffsetsTable.swift`) are generated from real toolchains by
/// `Generate/generate-offsets.sh`; Go does not change these layouts in patch releases.
public enum GoOffsetsTable {
  public struct Entry: Sendable, Hashable {
    /// The toolchain the entry was generated with, e.g. `go1.22.10`.
    public var toolchain: String
    public var offsets: GoOffsets
    /// Number of entries of `runtime.waitReasonStrings`.
    public var waitReasonCount: Int
    /// Number of entries of `runtime.gStatusStrings`.
    public var gStatusCount: Int
    /// The numbers of a few wait reasons (e.g. "chan send"), for tests.
    public var waitReasonSample: [String: Int]
  }

  /// The entry for `version`'s minor release, if that release is supported.
  public static func entry(for version: GoVersion) -> Entry? {
    entries.first {
      guard let release = GoVersion($0.toolchain) else { return false }
      return (release.major, release.minor) == (version.major, version.minor)
    }
  }

  /// The supported minor releases, e.g. `["go1.19", "go1.21"]`.
  public static var supportedReleases: [String] {
    entries.compactMap { GoVersion($0.toolchain).map { "go\($0.major).\($0.minor)" } }
  }
}
