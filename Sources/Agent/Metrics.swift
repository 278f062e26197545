/// Renders the daemon's counters in the Prometheus text exposition format.
public struct MetricsRenderer: Sendable {
  /// One sample: name, help, type, value.
  public struct Sample: Sendable {
    public var name: String
    public var help: String
    public var type: String
    public var value: Double

    public init(_ name: String, _ type: String, _ help: String, _ value: Double) {
      self.name = name
      self.help = help
      self.type = type
      self.value = value
    }
  }

  public init() {}

  /// The exposition text for `samples`.
  public func render(_ samples: [Sample]) -> String {
    samples.map { sample in
      let value =
        sample.value == sample.value.rounded() && abs(sample.value) <= 9_007_199_254_740_992
        ? String(Int64(sample.value)) : String(sample.value)
      return
        "# HELP \(sample.name) \(sample.help)\n# TYPE \(sample.name) \(sample.type)\n\(sample.name) \(value)\n"
    }.joined()
  }
}
