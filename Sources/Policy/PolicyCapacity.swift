/// The sizes of the datapath's policy maps (`bpf.policyCapacity`).
public struct PolicyCapacity: Sendable, Equatable {
  /// Address blocks per generation (over every endpoint direction).
  public var maxEntries: Int
  /// Rule and default counters; at most `PolicyCompiler.maxCounters`.
  public var maxCounters: Int
  /// Endpoints; ids are below this.
  public var maxEndpoints: Int

  /// Limits for one generation of policy.
  public init(maxEntries: Int, maxCounters: Int, maxEndpoints: Int) {
    self.maxEntries = maxEntries
    self.maxCounters = maxCounters
    self.maxEndpoints = maxEndpoints
  }
}
