/// Sizes of the caches that turn addresses into function names.
public struct SymbolizationSettings: Sendable, Equatable, Codable {
  /// ELF files whose symbol tables are kept parsed.
  public var cacheFiles: Int
  /// Processes whose memory maps are kept.
  public var cacheProcesses: Int

  /// Creates symbolization settings; the defaults are those of a file without `symbolization`.
  public init(cacheFiles: Int = 64, cacheProcesses: Int = 256) {
    self.cacheFiles = cacheFiles
    self.cacheProcesses = cacheProcesses
  }

  init(_ node: ConfigNode) throws(ConfigError) {
    self.init()
    let fields = try node.mapping(keys: ["cacheFiles", "cacheProcesses"])
    if let files = fields["cacheFiles"] { cacheFiles = try files.integer() }
    if let processes = fields["cacheProcesses"] { cacheProcesses = try processes.integer() }
  }

  func validate(source: String) throws(ConfigError) {
    for (field, value) in [("cacheFiles", cacheFiles), ("cacheProcesses", cacheProcesses)]
    where value < 1 {
      throw ConfigError(
        source: source, field: "symbolization.\(field)", value: "\(value)",
        reason: "must be at least 1")
    }
  }
}
